// Word lists the synthetic receipt generator draws from: merchant names, places, products.

export interface Product {
  name: string;
  /** Shelf price range in cents; each merchant fixes one price inside it. */
  minCents: number;
  maxCents: number;
}

export interface Category {
  key: string;
  /** Last word(s) of a merchant name of this kind: `MARKET`, `COFFEE CO` ... */
  nameSuffixes: readonly string[];
  products: readonly Product[];
  /** Highest quantity a customer buys of one product. */
  maxQuantity: number;
}

const p = (name: string, minCents: number, maxCents: number): Product => ({ name, minCents, maxCents });

export const CATEGORIES: readonly Category[] = [
  {
    key: 'grocery',
    nameSuffixes: ['MARKET', 'GROCERY', 'FOODS', 'FRESH MARKET', 'SUPERMARKET', 'FOOD CO-OP'],
    maxQuantity: 6,
    products: [
      p('BANANAS', 59, 149),
      p('WHOLE MILK GAL', 299, 499),
      p('MILK 2% GAL', 289, 479),
      p('LARGE EGGS 12CT', 249, 599),
      p('SOURDOUGH BREAD', 399, 699),
      p('CHEDDAR CHEESE', 349, 699),
      p('GREEK YOGURT', 99, 199),
      p('CHICKEN BREAST', 699, 1299),
      p('GROUND BEEF 1LB', 499, 899),
      p('BABY SPINACH', 299, 499),
      p('ROMA TOMATOES', 149, 349),
      p('YELLOW ONIONS', 99, 299),
      p('RUSSET POTATOES 5LB', 349, 599),
      p('APPLE JUICE', 249, 449),
      p('PEANUT BUTTER', 279, 549),
      p('SPAGHETTI', 129, 249),
      p('MARINARA SAUCE', 249, 499),
      p('ORANGE JUICE', 349, 599),
      p('BUTTER UNSALTED', 399, 649),
      p('JASMINE RICE 2LB', 299, 549),
      p('AVOCADO', 79, 199),
      p('STRAWBERRIES 1LB', 299, 499),
      p('OAT CEREAL', 349, 599),
    ],
  },
  {
    key: 'cafe',
    nameSuffixes: ['CAFE', 'COFFEE', 'COFFEE CO', 'ESPRESSO BAR', 'ROASTERS', 'TEA HOUSE'],
    maxQuantity: 4,
    products: [
      p('LATTE 12OZ', 425, 595),
      p('CAPPUCCINO', 395, 545),
      p('AMERICANO', 295, 425),
      p('COLD BREW', 375, 525),
      p('DOUBLE ESPRESSO', 275, 395),
      p('MOCHA', 450, 625),
      p('CHAI LATTE', 425, 575),
      p('HOT TEA', 250, 375),
      p('ICED TEA', 275, 395),
      p('BLUEBERRY MUFFIN', 325, 450),
      p('CROISSANT', 350, 475),
      p('BAGEL CREAM CHEESE', 375, 525),
      p('AVOCADO TOAST', 895, 1295),
      p('BREAKFAST SANDWICH', 695, 995),
      p('OAT MILK', 50, 95),
      p('EXTRA SHOT', 75, 125),
      p('SCONE', 325, 425),
      p('CHOCOLATE COOKIE', 250, 375),
      p('BOTTLED WATER', 195, 295),
      p('BANANA BREAD', 350, 495),
    ],
  },
  {
    key: 'hardware',
    nameSuffixes: ['HARDWARE', 'HOME CENTER', 'TOOL SUPPLY', 'LUMBER', 'BUILDERS SUPPLY'],
    maxQuantity: 10,
    products: [
      p('WOOD SCREWS 1LB', 699, 1199),
      p('DRYWALL ANCHORS', 399, 799),
      p('CLAW HAMMER', 1499, 2999),
      p('TAPE MEASURE 25FT', 999, 1999),
      p('LED BULB 4PK', 899, 1599),
      p('DUCT TAPE', 499, 899),
      p('PAINT BRUSH 2IN', 399, 999),
      p('INTERIOR PAINT GAL', 2999, 5499),
      p('EXTENSION CORD 25FT', 1299, 2499),
      p('WORK GLOVES', 999, 1999),
      p('PVC PIPE 10FT', 499, 1099),
      p('WD-40 12OZ', 599, 899),
      p('SANDPAPER 10PK', 499, 899),
      p('CORDLESS DRILL', 7999, 19999),
      p('UTILITY KNIFE', 599, 1499),
      p('ZIP TIES 100CT', 399, 799),
      p('WOOD GLUE', 399, 699),
      p('CAULK WHITE', 499, 899),
      p('DOOR HINGE', 299, 699),
      p('PADLOCK', 899, 2499),
      p('STEP LADDER 6FT', 6999, 12999),
      p('WET DRY VAC', 8999, 15999),
    ],
  },
  {
    key: 'pharmacy',
    nameSuffixes: ['PHARMACY', 'DRUG', 'APOTHECARY', 'DRUGSTORE', 'HEALTH MART'],
    maxQuantity: 4,
    products: [
      p('IBUPROFEN 200MG', 599, 1299),
      p('ACETAMINOPHEN 500MG', 499, 1199),
      p('ALLERGY RELIEF', 1199, 2499),
      p('VITAMIN D3', 799, 1499),
      p('MULTIVITAMIN', 999, 1899),
      p('BANDAGES 30CT', 349, 699),
      p('HAND SANITIZER', 199, 499),
      p('TOOTHPASTE', 299, 699),
      p('TOOTHBRUSH', 249, 899),
      p('DENTAL FLOSS', 249, 499),
      p('SHAMPOO', 499, 1099),
      p('BODY LOTION', 599, 1299),
      p('SUNSCREEN SPF50', 899, 1599),
      p('COUGH SYRUP', 799, 1399),
      p('NASAL SPRAY', 999, 1699),
      p('COTTON SWABS', 199, 499),
      p('RAZOR CARTRIDGES', 1499, 2999),
      p('DEODORANT', 399, 799),
      p('EYE DROPS', 599, 1199),
      p('GREETING CARD', 299, 699),
    ],
  },
  {
    key: 'bakery',
    nameSuffixes: ['BAKERY', 'BAKEHOUSE', 'PATISSERIE', 'BREAD CO', 'DONUTS'],
    maxQuantity: 12,
    products: [
      p('BAGUETTE', 349, 549),
      p('BUTTER CROISSANT', 325, 475),
      p('PAIN AU CHOCOLAT', 375, 525),
      p('CINNAMON ROLL', 399, 599),
      p('SOURDOUGH LOAF', 699, 999),
      p('RYE BREAD', 599, 899),
      p('BRIOCHE', 649, 949),
      p('FRUIT TART', 499, 799),
      p('CHEESECAKE SLICE', 550, 795),
      p('CARROT CAKE SLICE', 525, 750),
      p('GLAZED DONUT', 129, 249),
      p('APPLE TURNOVER', 349, 499),
      p('DINNER ROLLS 6PK', 499, 799),
      p('CHOC CHIP COOKIE', 199, 349),
      p('MACARON', 225, 350),
      p('ECLAIR', 399, 599),
      p('BIRTHDAY CAKE 8IN', 2999, 4599),
      p('DRIP COFFEE 16OZ', 225, 375),
      p('FOCACCIA', 599, 899),
      p('SOFT PRETZEL', 299, 449),
    ],
  },
  {
    key: 'pet',
    nameSuffixes: ['PET SUPPLY', 'PETS', 'PET CENTER', 'PET FOOD', 'ANIMAL SUPPLY'],
    maxQuantity: 6,
    products: [
      p('DOG FOOD 30LB', 3999, 6999),
      p('CAT FOOD 12PK', 999, 1899),
      p('CAT LITTER 20LB', 1299, 2199),
      p('DOG TREATS', 499, 1299),
      p('CHEW TOY', 599, 1499),
      p('TENNIS BALLS 3PK', 399, 799),
      p('LEASH 6FT', 1299, 2499),
      p('PET SHAMPOO', 799, 1499),
      p('FLEA COLLAR', 1999, 4999),
      p('BIRD SEED 5LB', 899, 1599),
      p('FISH FLAKES', 399, 899),
      p('AQUARIUM FILTER', 1999, 3999),
      p('HAMSTER BEDDING', 899, 1699),
      p('ORTHOPEDIC DOG BED', 4999, 8999),
      p('CAT SCRATCHER', 1499, 2999),
      p('POOP BAGS 120CT', 799, 1499),
      p('STEEL FOOD BOWL', 699, 1499),
      p('CATNIP', 299, 599),
      p('RAWHIDE BONES', 599, 1199),
      p('PET WATER FOUNTAIN', 2499, 3999),
    ],
  },
];

/** First word of a merchant name. */
export const NAME_PREFIXES = [
  'SUNNY',
  'BLUE',
  'GREEN',
  'RED BARN',
  'GOLDEN',
  'SILVER',
  'NORTH',
  'SOUTH',
  'EAST',
  'WEST',
  'OLD TOWN',
  'NEW',
  'HAPPY',
  'LUCKY',
  'MAPLE',
  'OAK',
  'PINE',
  'CEDAR',
  'RIVER',
  'LAKE',
  'HILL',
  'MAIN STREET',
  'CORNER',
  'VILLAGE',
  'CITY',
  'HARBOR',
  'PRAIRIE',
  'SUMMIT',
  "JOE'S",
  "ROSA'S",
  "MILLER'S",
  'FAMILY',
] as const;

/** Optional second word of a merchant name. */
export const NAME_MIDDLES = [
  'VALLEY',
  'RIDGE',
  'CREEK',
  'PARK',
  'GROVE',
  'BROOK',
  'FIELD',
  'VIEW',
  'HOLLOW',
  'MEADOW',
  'POINT',
  'SQUARE',
  'STAR',
  'BRIDGE',
] as const;

export const STREET_NAMES = [
  'MAIN',
  'OAK',
  'ELM',
  'MAPLE',
  'PARK',
  'WASHINGTON',
  'LINCOLN',
  'JEFFERSON',
  'LAKE',
  'HILLSIDE',
  'MARKET',
  'BROADWAY',
  'CENTER',
  'RIVER',
  'SUNSET',
  'HIGHLAND',
  'CHURCH',
  '1ST',
  '2ND',
  '5TH',
] as const;

export const STREET_SUFFIXES = ['ST', 'AVE', 'BLVD', 'RD', 'DR', 'LN', 'WAY', 'HWY', 'PKWY'] as const;

export const CITIES: ReadonlyArray<{ city: string; state: string; areaCodes: readonly string[] }> = [
  { city: 'SPRINGFIELD', state: 'IL', areaCodes: ['217'] },
  { city: 'PORTLAND', state: 'OR', areaCodes: ['503', '971'] },
  { city: 'AUSTIN', state: 'TX', areaCodes: ['512', '737'] },
  { city: 'DENVER', state: 'CO', areaCodes: ['303', '720'] },
  { city: 'MADISON', state: 'WI', areaCodes: ['608'] },
  { city: 'RALEIGH', state: 'NC', areaCodes: ['919', '984'] },
  { city: 'SALT LAKE CITY', state: 'UT', areaCodes: ['801', '385'] },
  { city: 'SAN DIEGO', state: 'CA', areaCodes: ['619', '858'] },
  { city: 'COLUMBUS', state: 'OH', areaCodes: ['614', '380'] },
  { city: 'BOISE', state: 'ID', areaCodes: ['208'] },
  { city: 'BURLINGTON', state: 'VT', areaCodes: ['802'] },
  { city: 'ANN ARBOR', state: 'MI', areaCodes: ['734'] },
  { city: 'SAVANNAH', state: 'GA', areaCodes: ['912'] },
  { city: 'TUCSON', state: 'AZ', areaCodes: ['520'] },
  { city: 'RICHMOND', state: 'VA', areaCodes: ['804'] },
];

/** Payment methods as printed; a multi-word one labels every word PAYMENT_METHOD. */
export const CARD_PAYMENTS = ['VISA', 'MASTERCARD', 'AMEX', 'DISCOVER', 'DEBIT', 'APPLE PAY'] as const;
export const CASH_PAYMENT = 'CASH';

export const CASHIER_NAMES = [
  'ANNA',
  'JOSE',
  'MIKE',
  'PRIYA',
  'DEREK',
  'LUCY',
  'TOM',
  'AISHA',
  'KEVIN',
  'MEI',
] as const;

export const SUBTOTAL_KEYWORDS = ['SUBTOTAL', 'SUB TOTAL', 'SUB-TOTAL'] as const;
export const TAX_KEYWORDS = ['TAX', 'SALES TAX'] as const;
export const TOTAL_KEYWORDS = ['TOTAL', 'GRAND TOTAL', 'BALANCE DUE', 'AMOUNT DUE'] as const;
export const CLOSINGS = [
  'THANK YOU',
  'THANK YOU FOR SHOPPING',
  'THANK YOU PLEASE COME AGAIN',
  'HAVE A NICE DAY',
] as const;

/** Sales tax rates in basis points (0 to 10%). */
export const TAX_RATES_BP = [0, 250, 400, 500, 600, 625, 700, 725, 750, 800, 825, 875, 950, 1000] as const;

/** Opening hours as merchants print them (every word labelled STORE_HOURS). */
export const STORE_HOURS_TEXTS = [
  'MON-SUN 7AM-10PM',
  'OPEN DAILY 8AM-9PM',
  'MON-FRI 6AM-8PM SAT-SUN 7AM-6PM',
  'HOURS 9AM-7PM',
  'OPEN 24 HOURS',
] as const;
/** Top-level domains of merchant websites. */
export const WEBSITE_SUFFIXES = ['.com', '.net', '.shop'] as const;
/** Words printed before a loyalty number (unlabelled). */
export const LOYALTY_KEYWORDS = ['MEMBER #', 'REWARDS ID', 'LOYALTY #', 'CLUB CARD'] as const;
/** Coupon codes (labelled COUPON with their negative amount). */
export const COUPON_CODES = ['SAVE5', 'MFR COUPON', 'DIGITAL COUPON', 'BOGO50', 'WELCOME10'] as const;
/** Descriptions of non-coupon discounts (unlabelled; the amount is the DISCOUNT). */
export const DISCOUNT_TEXTS = ['MEMBER DISCOUNT', 'SALE SAVINGS', '10% OFF', 'EMPLOYEE DISC'] as const;
/** Tip shares of the pre-tax amount, in percent. */
export const TIP_PERCENTS = [10, 15, 18, 20] as const;
/** Cash back amounts in cents (debit payments). */
export const CASH_BACK_CENTS = [1000, 2000, 4000, 6000] as const;

// Builds small receipts by hand for rule tests: `'TOTAL 17.03|GRAND_TOTAL'` is a line of two
// words, the second labelled GRAND_TOTAL (VALID); a trailing `?` (`17.03|GRAND_TOTAL?`) makes it PENDING.
import type { Label } from '../../src/domain/llm-tasks';
import { lineIdOf, wordIdOf, type Receipt, type Word } from '../../src/domain/receipt';

export const TEST_RECEIPT_ID = 'm-0001-r-00001';

export function receiptFrom(lines: readonly string[], receiptId = TEST_RECEIPT_ID): Receipt {
  return {
    receiptId,
    merchantId: 'm-0001',
    merchantName: 'TEST MERCHANT',
    purchasedAt: '2024-03-14T10:45:00',
    lines: lines.map((spec, lineIndex) => {
      const words: Word[] = spec
        .split(/\s+/)
        .filter(Boolean)
        .map((token, wordIndex) => {
          const [text = '', rawLabel] = token.split('|');
          const word: Word = {
            wordId: wordIdOf(receiptId, lineIndex, wordIndex),
            lineIndex,
            wordIndex,
            text,
          };
          if (rawLabel) {
            const pending = rawLabel.endsWith('?');
            word.label = {
              label: rawLabel.replace(/\?$/, '') as Label,
              validationStatus: pending ? 'PENDING' : 'VALID',
              source: 'test',
            };
          }
          return word;
        });
      return {
        lineId: lineIdOf(receiptId, lineIndex),
        lineIndex,
        text: words.map((w) => w.text).join(' '),
        words,
      };
    }),
  };
}

/**
 * A grocery receipt every rule accepts. Amounts worked out by hand:
 * 1.29 + 2 x 3.49 (6.98) + 3 x 2.50 (7.50) = 15.77; 8% tax = 1.26; 15.77 + 1.26 = 17.03.
 */
export const CLEAN_LINES: readonly string[] = [
  'BLUE|MERCHANT_NAME OAK|MERCHANT_NAME MARKET|MERCHANT_NAME', // 0
  '12|ADDRESS_LINE MAIN|ADDRESS_LINE ST|ADDRESS_LINE', // 1
  'SPRINGFIELD,|ADDRESS_LINE IL|ADDRESS_LINE 62704|ADDRESS_LINE', // 2
  'TEL (217)|PHONE_NUMBER 555-0134|PHONE_NUMBER', // 3
  '03/14/2024|DATE 10:45|TIME AM|TIME', // 4
  'BANANAS|PRODUCT_NAME 1.29|LINE_TOTAL', // 5
  '2x|QUANTITY WHOLE|PRODUCT_NAME MILK|PRODUCT_NAME 3.49|UNIT_PRICE 6.98|LINE_TOTAL', // 6
  'EGGS|PRODUCT_NAME 3|QUANTITY @ 2.50|UNIT_PRICE 7.50|LINE_TOTAL', // 7
  'SUBTOTAL 15.77|SUBTOTAL', // 8
  'TAX 1.26|TAX', // 9
  'TOTAL 17.03|GRAND_TOTAL', // 10
  'VISA|PAYMENT_METHOD XXXX1234', // 11
  'THANK YOU', // 12
];

/** CLEAN_LINES with line `index` replaced by the given line(s) (none deletes it). */
export function cleanWith(index: number, ...replacement: string[]): string[] {
  const lines = [...CLEAN_LINES];
  lines.splice(index, 1, ...replacement);
  return lines;
}

/** CLEAN_LINES with several lines replaced, by index into the original. */
export function cleanWithLines(replacements: Readonly<Record<number, string>>): string[] {
  return CLEAN_LINES.map((line, i) => replacements[i] ?? line);
}

export function wordByText(receipt: Receipt, text: string): Word {
  const words = receipt.lines.flatMap((l) => l.words).filter((w) => w.text === text);
  if (words.length !== 1) throw new Error(`expected one word ${JSON.stringify(text)}, found ${words.length}`);
  return words[0] as Word;
}

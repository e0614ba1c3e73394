// Item quantities as receipts print them: `2`, `2x`, `x2`, `2X`.

const QUANTITY_RE = /^(?:[xX](\d{1,4})|(\d{1,4})[xX]?)$/;

/** The integer count of a quantity word, or undefined (`1.50`, `2%`, `MILK` are not quantities). */
export function parseQuantity(text: string): number | undefined {
  const m = QUANTITY_RE.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1] ?? m[2]);
}

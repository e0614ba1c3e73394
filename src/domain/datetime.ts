// Calendar dates and clock times as receipts print them; pure arithmetic, no Date objects.

export const DATE_FORMATS = ['MM/DD/YYYY', 'YYYY-MM-DD'] as const;
export type DateFormat = (typeof DATE_FORMATS)[number];

/** `HH:MM` is 24-hour; `HH:MM AM` is 12-hour and prints as two words. */
export const TIME_FORMATS = ['HH:MM', 'HH:MM AM'] as const;
export type TimeFormat = (typeof TIME_FORMATS)[number];

export interface CalendarDate {
  year: number;
  /** 1..12 */
  month: number;
  /** 1..31 */
  day: number;
}

export interface ClockTime {
  /** 0..23 */
  hour: number;
  /** 0..59 */
  minute: number;
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/** Days in `month` (1..12) of `year`; 0 for a month out of range. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2 && isLeapYear(year)) return 29;
  return MONTH_DAYS[month - 1] ?? 0;
}

function validDate(year: number, month: number, day: number): CalendarDate | undefined {
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  return { year, month, day };
}

const US_DATE_RE = /^(\d{1,2})\/(\d{1,2})\/(\d{4}|\d{2})$/;
const ISO_DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Parses `MM/DD/YYYY` (also `M/D/YYYY` and `MM/DD/YY`, read as 20YY) and `YYYY-MM-DD`.
 * Impossible dates (`13/45/2024`, `02/30/2023`) are undefined.
 */
export function parseDate(text: string): CalendarDate | undefined {
  const s = text.trim();
  const us = US_DATE_RE.exec(s);
  if (us) {
    const [, mm = '', dd = '', yy = ''] = us;
    const year = yy.length === 2 ? 2000 + Number(yy) : Number(yy);
    return validDate(year, Number(mm), Number(dd));
  }
  const iso = ISO_DATE_RE.exec(s);
  if (iso) {
    const [, yyyy = '', mm = '', dd = ''] = iso;
    return validDate(Number(yyyy), Number(mm), Number(dd));
  }
  return undefined;
}

const TIME_RE = /^(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp])\.?[Mm]\.?)?$/;

/**
 * Parses `HH:MM` / `HH:MM:SS` (24-hour) and `H:MM AM` / `HH:MMPM` (12-hour, hour 1..12) into a
 * 24-hour clock time. `25:00`, `10:61`, `13:00 PM` are undefined.
 */
export function parseTime(text: string): ClockTime | undefined {
  const m = TIME_RE.exec(text.trim());
  if (!m) return undefined;
  const [, hh = '', mm = '', ss, meridiem] = m;
  const hour = Number(hh);
  const minute = Number(mm);
  if (minute > 59 || (ss !== undefined && Number(ss) > 59)) return undefined;
  if (meridiem === undefined) return hour <= 23 ? { hour, minute } : undefined;
  if (hour < 1 || hour > 12) return undefined;
  const pm = meridiem.toUpperCase() === 'P';
  return { hour: (hour % 12) + (pm ? 12 : 0), minute };
}

/** True for the second word of a 12-hour time: `AM`, `PM`, `a.m.` ... */
export function isMeridiem(text: string): boolean {
  return /^[AaPp]\.?[Mm]\.?$/.test(text.trim());
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

export function formatDate(date: CalendarDate, format: DateFormat): string {
  const { year, month, day } = date;
  return format === 'MM/DD/YYYY'
    ? `${pad2(month)}/${pad2(day)}/${year}`
    : `${year}-${pad2(month)}-${pad2(day)}`;
}

export function formatTime(time: ClockTime, format: TimeFormat): string {
  const { hour, minute } = time;
  if (format === 'HH:MM') return `${pad2(hour)}:${pad2(minute)}`;
  const hour12 = hour % 12 === 0 ? 12 : hour % 12;
  return `${pad2(hour12)}:${pad2(minute)} ${hour < 12 ? 'AM' : 'PM'}`;
}

/** `YYYY-MM-DD`. */
export function toIsoDate(date: CalendarDate): string {
  return formatDate(date, 'YYYY-MM-DD');
}

/** `YYYY-MM-DDTHH:MM:00`, a local (zone-less) ISO 8601 date-time. */
export function toIsoDateTime(date: CalendarDate, time: ClockTime): string {
  return `${toIsoDate(date)}T${formatTime(time, 'HH:MM')}:00`;
}

// Receipt dates and times: the formats read and printed, and impossible values rejected.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  daysInMonth,
  formatDate,
  formatTime,
  isMeridiem,
  parseDate,
  parseTime,
  toIsoDateTime,
  type CalendarDate,
  type ClockTime,
} from '../../src/domain/datetime';

void describe('parseDate', () => {
  const cases: Array<[string, CalendarDate | undefined]> = [
    ['03/14/2024', { year: 2024, month: 3, day: 14 }],
    ['2024-03-14', { year: 2024, month: 3, day: 14 }],
    ['1/2/2024', { year: 2024, month: 1, day: 2 }],
    ['03/14/24', { year: 2024, month: 3, day: 14 }],
    ['02/29/2024', { year: 2024, month: 2, day: 29 }],
    ['2000-02-29', { year: 2000, month: 2, day: 29 }],
    ['12/31/2023', { year: 2023, month: 12, day: 31 }],
    ['13/45/2024', undefined],
    ['02/29/2023', undefined],
    ['1900-02-29', undefined],
    ['2024-04-31', undefined],
    ['2024-13-01', undefined],
    ['00/10/2024', undefined],
    ['03/00/2024', undefined],
    ['2024/03/14', undefined],
    ['14.03.2024', undefined],
    ['10:45', undefined],
    ['', undefined],
  ];
  for (const [text, expected] of cases) {
    void test(`${JSON.stringify(text)}`, () => assert.deepEqual(parseDate(text), expected));
  }
});

void describe('parseTime', () => {
  const cases: Array<[string, ClockTime | undefined]> = [
    ['10:45', { hour: 10, minute: 45 }],
    ['00:00', { hour: 0, minute: 0 }],
    ['23:59', { hour: 23, minute: 59 }],
    ['7:05', { hour: 7, minute: 5 }],
    ['10:45:30', { hour: 10, minute: 45 }],
    ['10:45 AM', { hour: 10, minute: 45 }],
    ['12:05 AM', { hour: 0, minute: 5 }],
    ['12:30 PM', { hour: 12, minute: 30 }],
    ['01:15 PM', { hour: 13, minute: 15 }],
    ['10:45PM', { hour: 22, minute: 45 }],
    ['9:00 p.m.', { hour: 21, minute: 0 }],
    ['24:00', undefined],
    ['10:60', undefined],
    ['10:45:61', undefined],
    ['13:00 PM', undefined],
    ['0:30 AM', undefined],
    ['1045', undefined],
    ['10:5', undefined],
    ['03/14/2024', undefined],
    ['AM', undefined],
  ];
  for (const [text, expected] of cases) {
    void test(`${JSON.stringify(text)}`, () => assert.deepEqual(parseTime(text), expected));
  }
});

void test('isMeridiem', () => {
  for (const yes of ['AM', 'PM', 'am', 'p.m.']) assert.equal(isMeridiem(yes), true, yes);
  for (const no of ['A', 'AMX', '10:45', 'PMS']) assert.equal(isMeridiem(no), false, no);
});

void test('daysInMonth knows leap years', () => {
  const cases: Array<[number, number, number]> = [
    [2024, 2, 29],
    [2023, 2, 28],
    [1900, 2, 28],
    [2000, 2, 29],
    [2023, 4, 30],
    [2023, 12, 31],
    [2023, 13, 0],
  ];
  for (const [year, month, days] of cases) assert.equal(daysInMonth(year, month), days, `${year}-${month}`);
});

void describe('formatting', () => {
  const date = { year: 2024, month: 3, day: 4 };
  void test('dates', () => {
    assert.equal(formatDate(date, 'MM/DD/YYYY'), '03/04/2024');
    assert.equal(formatDate(date, 'YYYY-MM-DD'), '2024-03-04');
  });
  const times: Array<[ClockTime, string, string]> = [
    [{ hour: 0, minute: 5 }, '00:05', '12:05 AM'],
    [{ hour: 9, minute: 30 }, '09:30', '09:30 AM'],
    [{ hour: 12, minute: 0 }, '12:00', '12:00 PM'],
    [{ hour: 21, minute: 7 }, '21:07', '09:07 PM'],
  ];
  for (const [time, h24, h12] of times) {
    void test(`time ${h24}`, () => {
      assert.equal(formatTime(time, 'HH:MM'), h24);
      assert.equal(formatTime(time, 'HH:MM AM'), h12);
      assert.deepEqual(parseTime(h12), time);
    });
  }
  void test('ISO date-time', () =>
    assert.equal(toIsoDateTime(date, { hour: 21, minute: 7 }), '2024-03-04T21:07:00'));
});

/**
 * NetSuite accounting periods, one per month. Internal ids are derived from the month so that they
 * never move between runs (2026-11 is always the same id).
 */
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Accounting period internal id for a YYYY-MM month. */
export function periodId(period: string): number {
  const [year, month] = period.split('-').map(Number);
  return (year - 2000) * 12 + month;
}

export function periodFromId(id: number): string {
  const year = 2000 + Math.floor((id - 1) / 12);
  const month = ((id - 1) % 12) + 1;
  return `${year}-${String(month).padStart(2, '0')}`;
}

/** '2026-11' -> 'Nov 2026' (NetSuite's period name). */
export function periodName(period: string): string {
  const [year, month] = period.split('-').map(Number);
  return `${MONTHS[month - 1]} ${year}`;
}

export function periodDates(period: string): { start: string; end: string } {
  const [year, month] = period.split('-').map(Number);
  const end = new Date(Date.UTC(year, month, 0)).toISOString().slice(0, 10);
  return { start: `${period}-01`, end };
}

// The sort keys of an analysis run's own items in its run partition: one per file (the rules'
// findings) and one per uncertain function (read back in pages), numbered in scan order.

/** Prefix of the run's stored files. */
export const FILE_PREFIX = 'FILE#';

export const fileSortKey = (path: string) => `${FILE_PREFIX}${path}`;

export const uncertainSortKey = (i: number) => `UNCERTAIN#${String(i).padStart(6, '0')}`;

/** What the parts of the queue table module share: the table's name and its limits. */
export const queueTable = 'rescope_queue';

/** Longest error text kept on a row (the column is varchar(2000)). */
export const maxErrorLength = 2000;

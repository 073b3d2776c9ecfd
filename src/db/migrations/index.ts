import type { Migration } from './migration.js';
import { rescopeQueue } from './0001-rescope-queue.js';
import { courseReference } from './0002-course-reference.js';
import { mtcReference } from './0003-mtc-reference.js';
import { queueOverride } from './0004-queue-override.js';
import { ownedUuidCollation } from './0005-owned-uuid-collation.js';
import { referenceUuidCollation } from './0006-reference-uuid-collation.js';
import { mtcUuidCollation } from './0007-mtc-uuid-collation.js';

export type { Migration } from './migration.js';

/** Every migration in order. Append only; never edit or reorder a landed entry. */
export const migrations: readonly Migration[] = Object.freeze([rescopeQueue, courseReference, mtcReference, queueOverride, ownedUuidCollation, referenceUuidCollation, mtcUuidCollation]);

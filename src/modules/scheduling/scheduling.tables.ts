import type { ColumnType } from 'kysely'

// Columns added by migration 20261127T181000Z-scheduling-edits, merged into the scheduling
// tables of src/db/database.ts (declaration merging, as the later modules there do).
type Editable<T> = ColumnType<T, T | undefined, T>

declare module '../../db/database.ts' {
  interface SpecialtyTable {
    active: Editable<boolean>
    version: Editable<number>
  }
  interface ResourceTable {
    version: Editable<number>
  }
  interface AppointmentTypeTable {
    active: Editable<boolean>
    version: Editable<number>
  }
  interface AvailabilityRuleTable {
    version: Editable<number>
  }
  interface AppointmentTable {
    erroredAt: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
    erroredBy: ColumnType<string | null, string | null | undefined, string | null>
    errorReason: ColumnType<string | null, string | null | undefined, string | null>
  }
}

export {}

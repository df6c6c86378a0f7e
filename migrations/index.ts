import * as foundation from './20261127T100000Z-foundation.ts'
import * as patients from './20261127T110000Z-patients.ts'

/** Every migration, in order. A new migration is added here as well as in its own file. */
export const migrations = {
  '20261127T100000Z-foundation': foundation,
  '20261127T110000Z-patients': patients,
}

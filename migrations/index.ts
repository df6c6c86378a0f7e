import * as foundation from './20261127T100000Z-foundation.ts'
import * as patients from './20261127T110000Z-patients.ts'
import * as registrations from './20261127T111000Z-registrations.ts'
import * as scheduling from './20261127T120000Z-scheduling.ts'
import * as eligibility from './20261127T130000Z-eligibility.ts'
import * as roi from './20261127T140000Z-roi.ts'
import * as audit from './20261127T150000Z-audit.ts'
import * as imports from './20261127T160000Z-imports.ts'
import * as restrictedRecords from './20261127T170000Z-restricted-records.ts'
import * as importKinds from './20261127T180000Z-import-kinds.ts'
import * as schedulingEdits from './20261127T181000Z-scheduling-edits.ts'
import * as nameSearchOrder from './20261127T182000Z-name-search-order.ts'
import * as duplicateProbeCover from './20261127T190000Z-duplicate-probe-cover.ts'
import * as registrationCheck from './20261127T200000Z-registration-check.ts'
import * as bookingClaim from './20261128T100000Z-booking-claim.ts'
import * as nameSearchIndex from './20261128T120000Z-name-search-index.ts'
import * as nameKeyInlinable from './20261128T121000Z-name-key-inlinable.ts'
import * as auditSeal from './20261128T130000Z-audit-seal.ts'
import * as bookingClaimRefusals from './20261128T142000Z-booking-claim-refusals.ts'
import * as auditQueuePerStatement from './20261128T143000Z-audit-queue-per-statement.ts'
import * as registrationProbeDistinct from './20261128T143100Z-registration-probe-distinct.ts'
import * as auditSealingFunction from './20261128T150000Z-audit-sealing-function.ts'
import * as nameKeyTransliteration from './20261128T160000Z-name-key-transliteration.ts'
import * as nameNativeKey from './20261128T170000Z-name-native-key.ts'
import * as patientReferenceIndexes from './20261128T180000Z-patient-reference-indexes.ts'
import * as nativeNameDuplicates from './20261128T190000Z-native-name-duplicates.ts'
import * as scheduleChangeLog from './20261128T200000Z-schedule-change-log.ts'

/** Every migration, in order. A new migration is added here as well as in its own file. */
export const migrations = {
  '20261127T100000Z-foundation': foundation,
  '20261127T110000Z-patients': patients,
  '20261127T111000Z-registrations': registrations,
  '20261127T120000Z-scheduling': scheduling,
  '20261127T130000Z-eligibility': eligibility,
  '20261127T140000Z-roi': roi,
  '20261127T150000Z-audit': audit,
  '20261127T160000Z-imports': imports,
  '20261127T170000Z-restricted-records': restrictedRecords,
  '20261127T180000Z-import-kinds': importKinds,
  '20261127T181000Z-scheduling-edits': schedulingEdits,
  '20261127T182000Z-name-search-order': nameSearchOrder,
  '20261127T190000Z-duplicate-probe-cover': duplicateProbeCover,
  '20261127T200000Z-registration-check': registrationCheck,
  '20261128T100000Z-booking-claim': bookingClaim,
  '20261128T120000Z-name-search-index': nameSearchIndex,
  '20261128T121000Z-name-key-inlinable': nameKeyInlinable,
  '20261128T130000Z-audit-seal': auditSeal,
  '20261128T142000Z-booking-claim-refusals': bookingClaimRefusals,
  '20261128T143000Z-audit-queue-per-statement': auditQueuePerStatement,
  '20261128T143100Z-registration-probe-distinct': registrationProbeDistinct,
  '20261128T150000Z-audit-sealing-function': auditSealingFunction,
  '20261128T160000Z-name-key-transliteration': nameKeyTransliteration,
  '20261128T170000Z-name-native-key': nameNativeKey,
  '20261128T180000Z-patient-reference-indexes': patientReferenceIndexes,
  '20261128T190000Z-native-name-duplicates': nativeNameDuplicates,
  '20261128T200000Z-schedule-change-log': scheduleChangeLog,
}

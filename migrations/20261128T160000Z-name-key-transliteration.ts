import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
//
// patient_name_key folded a fixed list of accented letters and dropped every other character, so a
// name in Cyrillic or Greek had no key at all (no name search, no duplicate match by name) and
// letters outside the list lost themselves instead of their accent: "Şahin" was keyed "ahin",
// "Strauß" "strau", "Nguyễn" "nguyn", "Ødegård" "degard" was right only by luck of the list. A
// search typed in plain ASCII, as front desks and integrators mostly type, missed all of them.
//
// Names of ASCII characters only (the great majority: octet length equals character length) take
// the previous function's path, byte for byte the same key. Any other name is decomposed (NFKD:
// accents become combining marks, which the final filter drops; ligatures and full-width letters
// become plain ones), upper-case letters without a decomposition are mapped to lower case by hand
// (lower() folds non-ASCII letters only under a UTF-8 locale, and a database may be created with
// C), and Cyrillic, Greek and the Latin letters that do not decompose are transliterated (letters
// to several letters first: ж zh, ш sh, ß ss, θ th ...). Scripts without a letter-for-letter
// romanisation (Han, Arabic, Hebrew ...) still have no key. The body stays one inlinable SQL
// expression (migration 20261128T121000Z).
const UPPER = 'ØŁĐĦÆŒÞÐŦŊĲАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯЁЂЄІЇЈЉЊЋЎЏҐΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ'
const LOWER = 'øłđħæœþðŧŋĳабвгдежзийклмнопрстуфхцчшщъыьэюяёђєіїјљњћўџґαβγδεζηθικλμνξοπρστυφχψω'
// Lower-case letters that become several Latin letters, and Greek digraphs romanised as a pair
// (ELOT 743: ου ou, ευ ev, αυ av, γγ ng), replaced before the one-to-one map below.
const SEVERAL: [string, string][] = [
  ['ß', 'ss'], ['æ', 'ae'], ['œ', 'oe'], ['þ', 'th'], ['ĳ', 'ij'],
  ['ου', 'ou'], ['ευ', 'ev'], ['αυ', 'av'], ['γγ', 'ng'],
  ['ж', 'zh'], ['х', 'kh'], ['ц', 'ts'], ['ч', 'ch'], ['щ', 'shch'], ['ш', 'sh'], ['ю', 'yu'], ['я', 'ya'], ['є', 'ye'],
  ['ђ', 'dj'], ['љ', 'lj'], ['њ', 'nj'], ['џ', 'dz'],
  ['θ', 'th'], ['χ', 'ch'], ['ψ', 'ps'],
]
const ONE_FROM = 'øłđðħıŧŋабвгдезийклмнопрстуфыэёіїјћўґαβγδεζηικλμνξοπρσςτυφω'
const ONE_TO = 'oldd' + 'hitn' + 'abvgdeziiklmnoprstufyeeiijcug' + 'avgdeziiklmnxoprsstyfo'

const severalReplaced = SEVERAL.reduce((inner, [from, to]) => `replace(${inner}, '${from}', '${to}')`, `lower(translate(normalize(s, NFKD), '${UPPER}', '${LOWER}'))`)

const transliterating = `
      SELECT NULLIF(regexp_replace(CASE WHEN octet_length(s) = char_length(s) THEN lower(s)
        ELSE translate(${severalReplaced}, '${ONE_FROM}', '${ONE_TO}') END, '[^a-z]', '', 'g'), '')
    `

// The previous body (migration 20261128T121000Z), for down().
const folding = `
      SELECT NULLIF(regexp_replace(lower(translate(s,
        'ÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖØòóôõöøÙÚÛÜùúûüÝýÿŠšŽžŁłĆćČčĘęŃńŚśŹźŻżŘřŮůĚěĎďŤťŇň',
        'AAAAAAaaaaaaCcEEEEeeeeIIIIiiiiNnOOOOOOooooooUUUUuuuuYyySsZzLlCcCcEeNnSsZzZzRrUuEeDdTtNn')), '[^a-z]', '', 'g'), '')
    `

async function define(db: Kysely<any>, body: string) {
  await sql`CREATE OR REPLACE FUNCTION patient_name_key(s text) RETURNS text LANGUAGE sql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE AS $$${sql.raw(body)}$$`.execute(db)
  // The key columns are stored: an UPDATE recomputes those that depend on a column it sets. Only
  // names with a non-ASCII character can have a different key (the ASCII path is the previous
  // function's).
  await sql`
    UPDATE patient SET family_name = family_name, given_names = given_names
    WHERE octet_length(family_name) <> char_length(family_name) OR octet_length(given_names) <> char_length(given_names)`.execute(db)
}

export async function up(db: Kysely<any>): Promise<void> {
  if (UPPER.length !== LOWER.length || ONE_FROM.length !== ONE_TO.length) throw new Error('transliteration tables differ in length')
  await define(db, transliterating)
}

export async function down(db: Kysely<any>): Promise<void> {
  await define(db, folding)
}

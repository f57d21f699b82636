import { assert } from './assert.js';

/** Bytes of every segment's header; frames start right after it. */
export const SEGMENT_HEADER_SIZE_BYTES = 32;
/** Bytes of every frame's header, before its records. */
export const FRAME_HEADER_SIZE_BYTES = 48;
/** Bytes before each record's payload inside a frame. */
export const RECORD_HEADER_SIZE_BYTES = 8;
/**
 * A write group closes its frame once it holds this many bytes and opens
 * another: readers verify a whole frame to return any record in it, so this
 * bounds the work of a random read. An appendBatch always stays in one frame
 * (that is what makes it atomic), so a large batch makes a larger frame.
 */
export const FRAME_SIZE_BYTES_TARGET = 256 * 1024;
/**
 * Frames start at multiples of 8 bytes so that a header's fields never
 * straddle a sector boundary at an odd place, and decoders can scan for a
 * frame after damage in 8-byte steps.
 */
export const FRAME_ALIGNMENT_BYTES = 8;

/** Default `maxRecordBytes`: the largest record payload accepted unless the options say otherwise. */
export const RECORD_SIZE_BYTES_DEFAULT_MAX = 16 * 1024 * 1024;
/** No record may ever be larger than this, whatever the options. */
export const RECORD_SIZE_BYTES_LIMIT = 256 * 1024 * 1024;
/**
 * No frame may ever claim more than this, whatever the options; decoders
 * also check a frame's size against the bytes the file really has before
 * allocating, so a torn length field can never ask for gigabytes.
 */
export const FRAME_SIZE_BYTES_LIMIT = 2 ** 31;

/** Default segment size: large enough that rotation is rare, small enough that retention is fine-grained. */
export const SEGMENT_SIZE_BYTES_DEFAULT = 64 * 1024 * 1024;
/** Smaller segments would spend more on rotation than on data. */
export const SEGMENT_SIZE_BYTES_MIN = 4096;
/** Offsets must stay exact in a JavaScript number. */
export const OFFSET_MAX = Number.MAX_SAFE_INTEGER;

/** Default bound on bytes appended but not yet acknowledged (backpressure). */
export const PENDING_SIZE_BYTES_DEFAULT_MAX = 64 * 1024 * 1024;
/** Default number of segment files a log keeps open for readers. */
export const OPEN_FILES_DEFAULT_MAX = 32;
/** Largest `maxOpenFiles` accepted (a log's, a manager's, a FileCache's). */
export const OPEN_FILES_MAX = 1_000_000;
/** Default age at which a non-empty active segment rolls (Kafka's segment.ms default is 7 days). */
export const SEGMENT_AGE_MS_DEFAULT_MAX = 7 * 24 * 60 * 60 * 1000;

/**
 * One sparse-index entry per this many bytes of frames: a read from an
 * arbitrary offset decodes at most this much before its first record.
 */
export const INDEX_INTERVAL_BYTES = 64 * 1024;
/**
 * Segments rotated away and not yet sealed, at most: each holds its write
 * descriptor until sealed (under batch, until a sync covers it), so a log
 * whose rotation outpaces sealing waits here instead of piling them up.
 */
export const SEALS_IN_FLIGHT_MAX = 4;
/**
 * Under 'os' and batch, once the event loop has been held up this long by
 * back-to-back flushes, the next flush waits for the loop to turn (timers,
 * I/O callbacks): the batch sync timer fires at most this much late.
 */
export const LOOP_HELD_UP_MS_MAX = 1;
/**
 * Under 'always', after a durable group is acknowledged, the flusher waits
 * one loop turn so the producers it just released join the next group, but
 * only after groups smaller than this. Small groups cost a device flush
 * each, so fewer and fuller ones win (W2); a large group's write is bound
 * by its bytes, and writing the next group at once lets the released
 * producers encode theirs while it is in flight (W3/16: 0.85-0.95x of the
 * reference without this bound, 1.00-1.14x with it, docs/performance.md).
 */
export const REJOIN_GROUP_SIZE_BYTES_MAX = 256 * 1024;
/** Readers fetch sealed data in blocks this large: 2 MiB scanned a warm log faster than 1 MiB in 6 of 6 interleaved runs here (1.04-1.9x; fewer thread-pool round trips per byte), 4 MiB no faster. */
export const READ_CHUNK_SIZE_BYTES = 2 * 1024 * 1024;
/** Group buffers start this small and grow by doubling to what the load needs. */
export const GROUP_BUFFER_SIZE_BYTES_INITIAL = 64 * 1024;
/**
 * Preallocation writes zeros ahead of the data in steps as large as the
 * segment's data so far, within these bounds. Appends into space that
 * already exists do not change the file's size, so their sync skips a
 * journal commit (measured here: 7,100 vs 2,700 O_DSYNC 1 KiB writes/s).
 * Growing with the data keeps small segments (rotation every 100 records)
 * from writing far more zeros than data. The cap keeps each zero write
 * short: under 'always' it is a durable write that the device serves
 * between group flushes, and 4 MiB steps doubled W2's p99 (6.2-7.4 ms
 * against 2.1-3.8 ms with 1 MiB, interleaved runs) for no more throughput.
 */
export const PREALLOCATE_STEP_BYTES_MIN = 64 * 1024;
export const PREALLOCATE_STEP_BYTES_MAX = 1024 * 1024;
/**
 * Groups at least this large are written without zeros ahead: the size
 * change costs little next to their own write, and zeros would double the
 * bytes written.
 */
export const PREALLOCATE_GROUP_SIZE_BYTES_MAX = 256 * 1024;

assert(FRAME_HEADER_SIZE_BYTES % FRAME_ALIGNMENT_BYTES === 0, 'frame header keeps alignment');
assert(RECORD_HEADER_SIZE_BYTES % FRAME_ALIGNMENT_BYTES === 0, 'record header keeps alignment');
assert(FRAME_SIZE_BYTES_TARGET < FRAME_SIZE_BYTES_LIMIT, 'frame target within limit');
assert(SEGMENT_HEADER_SIZE_BYTES % FRAME_ALIGNMENT_BYTES === 0, 'segment header keeps alignment');
assert(RECORD_SIZE_BYTES_DEFAULT_MAX <= RECORD_SIZE_BYTES_LIMIT, 'default record size within limit');
// A default-size record must fit in the default pending budget, or one
// append could never be admitted.
assert(FRAME_HEADER_SIZE_BYTES + RECORD_HEADER_SIZE_BYTES + RECORD_SIZE_BYTES_DEFAULT_MAX + FRAME_ALIGNMENT_BYTES <= PENDING_SIZE_BYTES_DEFAULT_MAX, 'record fits pending budget');
assert(INDEX_INTERVAL_BYTES <= READ_CHUNK_SIZE_BYTES, 'index interval within one read');

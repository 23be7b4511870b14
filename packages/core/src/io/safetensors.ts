/**
 * safetensors: the weight format of Hugging Face (https://github.com/huggingface/safetensors). A file
 * is data only (no pickled code), so loading one never runs anything; here it is read with
 * `JSON.parse` and typed-array copies, nothing else.
 *
 *   [8 bytes]  N, the header length, unsigned 64-bit little-endian
 *   [N bytes]  UTF-8 JSON: { "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] },
 *                            ..., "__metadata__": { "<key>": "<string value>" } }   (may end in spaces)
 *   [rest]     the byte buffer: every tensor's values, row-major, little-endian; offsets are relative
 *              to the start of this buffer
 *
 * Reading accepts F32, F64, I32, BOOL, I64/U32/U64 (narrowed to int32 with a range check), I8/U8/I16/U16
 * (widened to int32) and F16/BF16 (widened to float32). Writing uses F32, F64, I32 and BOOL, our dtypes.
 * The writer pads the header with spaces so the byte buffer starts at a multiple of 8, and orders
 * tensors by element size (largest first), so every tensor starts aligned to its element size, as the
 * reference writer does.
 */
import { type DType, type TypedArray, allocate } from '../dtype.js'
import { ArgumentError, RefnetsError } from '../errors.js'
import { Tensor } from '../tensor.js'

/** A safetensors file is malformed: the message says what was expected and what came. */
export class SafetensorsError extends RefnetsError {
  override name = 'SafetensorsError'
}

/** One header entry, as in the file. */
export interface SafetensorsEntry {
  dtype: string
  shape: number[]
  data_offsets: [number, number]
}

export interface SafetensorsFile {
  tensors: Record<string, Tensor>
  /** The optional `__metadata__` string map (empty when absent). */
  metadata: Record<string, string>
  /** The header entries by tensor name, as written in the file. */
  header: Record<string, SafetensorsEntry>
}

/** Element size in bytes of each file dtype we read, and the tensor dtype it becomes. */
const READ: Record<string, { bytes: number; to: DType }> = {
  F64: { bytes: 8, to: 'float64' },
  F32: { bytes: 4, to: 'float32' },
  F16: { bytes: 2, to: 'float32' },
  BF16: { bytes: 2, to: 'float32' },
  I64: { bytes: 8, to: 'int32' },
  U64: { bytes: 8, to: 'int32' },
  I32: { bytes: 4, to: 'int32' },
  U32: { bytes: 4, to: 'int32' },
  I16: { bytes: 2, to: 'int32' },
  U16: { bytes: 2, to: 'int32' },
  I8: { bytes: 1, to: 'int32' },
  U8: { bytes: 1, to: 'int32' },
  BOOL: { bytes: 1, to: 'bool' },
}

const WRITE: Record<DType, { code: string; bytes: number }> = {
  float64: { code: 'F64', bytes: 8 },
  float32: { code: 'F32', bytes: 4 },
  int32: { code: 'I32', bytes: 4 },
  bool: { code: 'BOOL', bytes: 1 },
}

/** The reference implementation refuses headers above 100 MB. */
const MAX_HEADER = 100_000_000

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

// ---- writing ---------------------------------------------------------------------------------

export interface SaveSafetensorsOptions {
  /** Free-form string metadata stored under `__metadata__` (e.g. { format: 'pt' }). */
  metadata?: Record<string, string>
}

/** Serialise named tensors (a state dict) to safetensors bytes. */
export function saveSafetensors(
  tensors: Record<string, Tensor>,
  { metadata }: SaveSafetensorsOptions = {},
): Uint8Array {
  const names = Object.keys(tensors)
  for (const name of names) {
    if (name === '__metadata__' || name === '')
      throw new ArgumentError(`saveSafetensors: '${name}' cannot be a tensor name`)
    if (!(tensors[name] instanceof Tensor)) throw new ArgumentError(`saveSafetensors: '${name}' is not a Tensor`)
  }
  if (metadata)
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== 'string')
        throw new ArgumentError(`saveSafetensors: metadata values must be strings, got ${typeof v} for '${k}'`)

  // Largest elements first (then by name), so each tensor starts aligned to its element size.
  names.sort((a, b) => WRITE[tensors[b]!.dtype].bytes - WRITE[tensors[a]!.dtype].bytes || (a < b ? -1 : a > b ? 1 : 0))
  const header: Record<string, unknown> = {}
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata
  let offset = 0
  for (const name of names) {
    const t = tensors[name]!
    const size = t.size * WRITE[t.dtype].bytes
    // defineProperty: a tensor named "__proto__" stays an ordinary key.
    Object.defineProperty(header, name, {
      value: { dtype: WRITE[t.dtype].code, shape: [...t.shape], data_offsets: [offset, offset + size] },
      enumerable: true,
      writable: true,
      configurable: true,
    })
    offset += size
  }
  let json = new TextEncoder().encode(JSON.stringify(header))
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8 // trailing spaces: the data starts 8-aligned
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20)
    p.set(json)
    json = p
  }

  const out = new Uint8Array(8 + json.length + offset)
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true)
  out.set(json, 8)
  let pos = 8 + json.length
  for (const name of names) {
    const values = tensors[name]!.data
    writeLE(values, out, pos)
    pos += values.length * values.BYTES_PER_ELEMENT
  }
  return out
}

function writeLE(values: TypedArray, out: Uint8Array, pos: number): void {
  if (littleEndianHost || values instanceof Uint8Array) {
    out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), pos)
    return
  }
  const view = new DataView(out.buffer, out.byteOffset)
  const step = values.BYTES_PER_ELEMENT
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    if (values instanceof Float64Array) view.setFloat64(pos + i * step, v, true)
    else if (values instanceof Float32Array) view.setFloat32(pos + i * step, v, true)
    else view.setInt32(pos + i * step, v, true)
  }
}

// ---- reading ---------------------------------------------------------------------------------

/** Parse safetensors bytes into tensors (copies: the result does not alias `bytes`). */
export function loadSafetensors(bytes: Uint8Array): Record<string, Tensor> {
  return parseSafetensors(bytes).tensors
}

/** Parse safetensors bytes: tensors, metadata and the raw header. Throws SafetensorsError if malformed. */
export function parseSafetensors(bytes: Uint8Array): SafetensorsFile {
  const { header, metadata, dataStart } = readHeader(bytes)
  const dataLen = bytes.length - dataStart
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)

  // Offsets must tile the byte buffer exactly: in range, no overlap, no holes, nothing after the
  // last tensor. The format requires this (it keeps a file from hiding other content).
  const spans = Object.entries(header).sort(
    ([, a], [, b]) => a.data_offsets[0] - b.data_offsets[0] || a.data_offsets[1] - b.data_offsets[1],
  )
  let expected = 0
  for (const [name, e] of spans) {
    const [begin, end] = e.data_offsets
    if (end > dataLen)
      throw new SafetensorsError(
        `tensor '${name}': data_offsets [${begin}, ${end}] run past the data section of ${dataLen} bytes`,
      )
    if (begin < expected)
      throw new SafetensorsError(
        `tensor '${name}': data_offsets [${begin}, ${end}] overlap the previous tensor, which ends at ${expected}`,
      )
    if (begin > expected)
      throw new SafetensorsError(
        `tensor '${name}': data_offsets start at ${begin}, expected ${expected} (the data section must have no holes)`,
      )
    expected = end
  }
  if (expected !== dataLen)
    throw new SafetensorsError(
      `the tensors cover ${expected} bytes of data but the data section has ${dataLen} (trailing bytes)`,
    )

  const tensors: Record<string, Tensor> = {}
  for (const [name, e] of Object.entries(header)) {
    const t = new Tensor(decode(name, e, view, dataStart), e.shape)
    Object.defineProperty(tensors, name, { value: t, enumerable: true, writable: true, configurable: true })
  }
  return { tensors, metadata, header }
}

function readHeader(bytes: Uint8Array): {
  header: Record<string, SafetensorsEntry>
  metadata: Record<string, string>
  dataStart: number
} {
  if (!(bytes instanceof Uint8Array))
    throw new ArgumentError(`loadSafetensors: expected a Uint8Array, got ${typeof bytes}`)
  if (bytes.length < 8)
    throw new SafetensorsError(`file too short: expected at least 8 bytes (the header length), got ${bytes.length}`)
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)
  if (n > BigInt(bytes.length - 8))
    throw new SafetensorsError(
      `header length ${n} runs past the end of the file: only ${bytes.length - 8} bytes follow the length field`,
    )
  if (n > BigInt(MAX_HEADER)) throw new SafetensorsError(`header length ${n} is above the ${MAX_HEADER}-byte limit`)
  const len = Number(n)
  let raw: unknown
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + len)))
  } catch (err) {
    throw new SafetensorsError(`header is not valid UTF-8 JSON: ${(err as Error).message}`)
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new SafetensorsError(
      `header must be a JSON object, got ${Array.isArray(raw) ? 'an array' : String(raw === null ? 'null' : typeof raw)}`,
    )

  const header: Record<string, SafetensorsEntry> = {}
  let metadata: Record<string, string> = {}
  for (const [name, entry] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = checkMetadata(entry)
      continue
    }
    Object.defineProperty(header, name, {
      value: checkEntry(name, entry),
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return { header, metadata, dataStart: 8 + len }
}

function checkMetadata(m: unknown): Record<string, string> {
  if (typeof m !== 'object' || m === null || Array.isArray(m))
    throw new SafetensorsError(`__metadata__ must be an object of strings, got ${JSON.stringify(m)}`)
  for (const [k, v] of Object.entries(m))
    if (typeof v !== 'string')
      throw new SafetensorsError(`__metadata__['${k}'] must be a string, got ${JSON.stringify(v)}`)
  return { ...(m as Record<string, string>) }
}

function checkEntry(name: string, e: unknown): SafetensorsEntry {
  if (typeof e !== 'object' || e === null || Array.isArray(e))
    throw new SafetensorsError(`tensor '${name}': expected { dtype, shape, data_offsets }, got ${JSON.stringify(e)}`)
  const { dtype, shape, data_offsets: offs } = e as Record<string, unknown>
  if (typeof dtype !== 'string' || !(dtype in READ))
    throw new SafetensorsError(
      `tensor '${name}': unknown or unsupported dtype ${JSON.stringify(dtype)}, expected one of ${Object.keys(READ).join(', ')}`,
    )
  const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
  if (!Array.isArray(shape) || !shape.every(isIndex))
    throw new SafetensorsError(
      `tensor '${name}': shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`,
    )
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isIndex) || offs[0] > offs[1])
    throw new SafetensorsError(
      `tensor '${name}': data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offs)}`,
    )
  const numel = shape.reduce((a: number, b: number) => a * b, 1)
  const want = numel * READ[dtype]!.bytes
  if (offs[1] - offs[0] !== want)
    throw new SafetensorsError(
      `tensor '${name}': ${dtype} of shape [${shape.join(', ')}] needs ${want} bytes, but data_offsets [${offs[0]}, ${offs[1]}] hold ${offs[1] - offs[0]}`,
    )
  return { dtype, shape: [...shape], data_offsets: [offs[0], offs[1]] }
}

/** Copy one tensor's bytes into a fresh array of its tensor dtype. */
function decode(name: string, e: SafetensorsEntry, view: DataView, dataStart: number): TypedArray {
  const { bytes: size, to } = READ[e.dtype]!
  const start = dataStart + e.data_offsets[0]
  const n = (e.data_offsets[1] - e.data_offsets[0]) / size
  // Fast path: our own dtypes on a little-endian host are a byte copy.
  if (littleEndianHost && (e.dtype === 'F32' || e.dtype === 'F64' || e.dtype === 'I32')) {
    const out = allocate(to, n)
    new Uint8Array(out.buffer).set(new Uint8Array(view.buffer, view.byteOffset + start, n * size))
    return out
  }
  const out = allocate(to, n)
  const at = (i: number) => start + i * size
  switch (e.dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(at(i), true)
      break
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(at(i), true)
      break
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = view.getInt32(at(i), true)
      break
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(at(i), true))
      break
    case 'BF16':
      // bfloat16 is the top half of a float32.
      for (let i = 0; i < n; i++) out[i] = bf16ToFloat(view.getUint16(at(i), true))
      break
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = view.getUint8(at(i)) ? 1 : 0
      break
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = view.getInt8(at(i))
      break
    case 'U8':
      for (let i = 0; i < n; i++) out[i] = view.getUint8(at(i))
      break
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = view.getInt16(at(i), true)
      break
    case 'U16':
      for (let i = 0; i < n; i++) out[i] = view.getUint16(at(i), true)
      break
    default: {
      // I64, U64, U32: indices are int32 in refnets (docs/architecture.md); refuse values that do not fit.
      for (let i = 0; i < n; i++) {
        const v =
          e.dtype === 'I64'
            ? view.getBigInt64(at(i), true)
            : e.dtype === 'U64'
              ? view.getBigUint64(at(i), true)
              : BigInt(view.getUint32(at(i), true))
        if (v < -2147483648n || v > 2147483647n)
          throw new SafetensorsError(
            `tensor '${name}': ${e.dtype} value ${v} at index ${i} does not fit int32 (refnets indices are int32)`,
          )
        out[i] = Number(v)
      }
    }
  }
  return out
}

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

function bf16ToFloat(bits: number): number {
  u32[0] = bits << 16
  return f32[0]!
}

/** IEEE 754 binary16 -> number (exact: every half value is a float32). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >> 10) & 0x1f
  const frac = h & 0x3ff
  if (exp === 0) return sign * frac * 2 ** -24 // zero and subnormals
  if (exp === 0x1f) return frac ? NaN : sign * Infinity
  return sign * (1 + frac / 1024) * 2 ** (exp - 15)
}

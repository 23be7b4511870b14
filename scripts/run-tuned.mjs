#!/usr/bin/env node
/**
 * node scripts/run-tuned.mjs <command> [args...]
 * Run a command (the bench, an example) with glibc's allocator told to keep freed memory for reuse.
 *
 * Every op's output is a fresh typed array, and a CNN's activations are megabytes each. glibc serves such
 * blocks from the heap or with mmap and, once the garbage collector frees a batch of them, hands the memory
 * back to the kernel (heap trimming, munmap); the next allocations fault it back in, page by page, zeroed.
 * Measured on ResNet-50 inference (one thread): 15-20% of the forward pass, visible as system time.
 * Raising the two thresholds keeps freed blocks mapped and reused, as the caching allocators PyTorch's CPU
 * tuning guide recommends (jemalloc, tcmalloc) do:
 *   MALLOC_MMAP_THRESHOLD_=32 MiB  blocks up to 32 MiB come from the heap (the largest activation of the
 *                                  CNNs here is 12.8 MB), larger ones are still mapped on their own;
 *   MALLOC_TRIM_THRESHOLD_=256 MiB up to 256 MiB of free heap is kept rather than returned;
 *   GLIBC_TUNABLES=glibc.malloc.hugetlb=1
 *                                  the heap is advised into transparent huge pages (glibc 2.35 and later; older
 *                                  ones ignore it), so that the heap grows by one fault per 2 MiB instead of one
 *                                  per 4 KiB page: a fault cost ~10 us on the virtual machines the bench runs on,
 *                                  and an LSTM layer ran at half speed for its first few hundred calls, AlexNet
 *                                  lost 10 ms a pass for several passes, while the heap grew.
 * Values already in the environment win. Other C libraries (macOS, musl, Windows) ignore the variables.
 * The same two variables help any application that runs refnets under glibc (see docs/performance.md).
 */
import { spawn } from 'node:child_process'

const TUNED_MALLOC = { MALLOC_MMAP_THRESHOLD_: String(32 << 20), MALLOC_TRIM_THRESHOLD_: String(256 << 20) }

const HUGE_PAGES = 'glibc.malloc.hugetlb=1'
/** The environment's GLIBC_TUNABLES with the huge-page setting added, unless it already chooses one. */
const tunables = ({ GLIBC_TUNABLES: set } = process.env) =>
  !set ? HUGE_PAGES : /(^|:)glibc\.malloc\.hugetlb=/.test(set) ? set : `${set}:${HUGE_PAGES}`

const [command, ...args] = process.argv.slice(2)
if (!command) {
  console.error('usage: node scripts/run-tuned.mjs <command> [args...]')
  process.exit(2)
}
const child = spawn(command, args, {
  stdio: 'inherit',
  env: { ...TUNED_MALLOC, ...process.env, GLIBC_TUNABLES: tunables() },
  shell: process.platform === 'win32',
})
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
child.on('error', (e) => {
  console.error(`run-tuned: cannot start ${command}: ${e.message}`)
  process.exit(127)
})

/**
 * Test setup: the report render test needs a Chromium. When none is installed and this is a
 * Debian machine where we are root (CI's case), install Debian's `chromium` package; otherwise the
 * render test is skipped with the reason. Set REFNETS_INSTALL_CHROMIUM=0 to never install.
 */
import { execSync } from 'node:child_process'
import { existsSync } from 'node:fs'

export default function setup() {
  const have = [
    process.env.CHROMIUM_PATH,
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
  ].some((p) => p && existsSync(p))
  if (have || process.env.REFNETS_INSTALL_CHROMIUM === '0') return
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    console.warn(
      '[setup] Chromium is not installed and cannot be installed here (needs root and apt-get); the render test will be skipped',
    )
    return
  }
  console.warn('[setup] installing Debian chromium for the report render test (apt-get)')
  try {
    execSync(
      'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium',
      { stdio: 'inherit', timeout: 600_000 },
    )
  } catch (e) {
    console.warn(
      `[setup] installing chromium failed (${(e as Error).message.split('\n')[0]}); the render test will be skipped`,
    )
  }
}

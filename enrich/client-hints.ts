import type { Static } from 'typebox'
import type { ClientHintsSchema } from '../core/event-schema.ts'
import type { DeviceType, UaInfo } from './types.ts'
import { dropUndefined, isDesktopOs } from './user-agent.ts'

export type ClientHints = Static<typeof ClientHintsSchema>
type Brand = NonNullable<ClientHints['brands']>[number]

/** Sec-CH-UA-Platform values mapped onto ua-parser-js 1.x's OS names, so both sources agree. */
const PLATFORM_TO_OS: Readonly<Record<string, string>> = {
  macOS: 'Mac OS',
  'Chrome OS': 'Chromium OS',
  'Chromium OS': 'Chromium OS',
}

/** ua-parser-js browser names whose Client Hints brand differs from the name. */
const BROWSER_TO_BRAND: Readonly<Record<string, string>> = {
  Chrome: 'Google Chrome',
  Edge: 'Microsoft Edge',
  'Chrome Headless': 'HeadlessChrome',
}

/**
 * Chromium adds a made-up "GREASE" brand ("Not A(Brand", "Not_A Brand", ";Not A Brand") so that
 * servers do not depend on the list's order or contents; it never names the browser.
 */
const GREASE = /^[^a-z]*not[^a-z]*a[^a-z]*brand[^a-z]*$/i

/**
 * Completes a UA parse with User-Agent Client Hints. Chrome's reduced UA freezes Android at "10"
 * with model "K", Windows 11 at "Windows NT 10.0" and the browser at "120.0.0.0"; the hints carry
 * the real values. Pure: returns a new object and never touches `ua` (which may be cached).
 */
export function mergeClientHints(ua: UaInfo, ch: ClientHints | undefined): UaInfo {
  if (ch === undefined) return { ...ua }
  let used = false

  const platform =
    ch.platform && ch.platform !== 'Unknown' ? (PLATFORM_TO_OS[ch.platform] ?? ch.platform) : undefined
  const osName = platform ?? ua.os.name
  // A version parsed from the UA belongs to the UA's OS; it is void if the hints name another OS.
  let osVersion = osName === ua.os.name ? ua.os.version : undefined
  if (platform !== undefined) used = true
  const hinted = ch.platformVersion ? osVersionFromHint(osName, ch.platformVersion) : undefined
  if (hinted !== undefined) {
    osVersion = hinted
    used = true
  }

  let model = ua.device.model
  let vendor = ua.device.vendor
  if (ch.model) {
    // A vendor parsed for another model would be wrong next to the hinted one.
    if (model !== undefined && model !== ch.model) vendor = undefined
    model = ch.model
    used = true
  }

  let type: DeviceType = ua.device.type
  if (ch.mobile !== undefined) used = true
  if (type !== 'bot') {
    if (ch.mobile === true && type !== 'tablet') type = 'mobile'
    else if (type === 'unknown' && isDesktopOs(osName)) type = 'desktop'
    else if (type === 'desktop' && !isDesktopOs(osName)) type = 'unknown'
  }

  const browser = browserFromHints(ua.browser, ch)
  if (browser !== ua.browser) used = true

  return {
    browser,
    engine: { ...ua.engine },
    os: dropUndefined({ name: osName, version: osVersion }),
    device: dropUndefined({ type, vendor, model }),
    bot: ua.bot,
    source: used ? 'ua+ch' : ua.source,
  }
}

/**
 * Windows reports a platform version, not a marketing name: major >= 13 is Windows 11, 1-10 is
 * Windows 10, 0 is 7/8/8.1 (then the UA's "NT 6.x" mapping is better, so undefined keeps it).
 * Elsewhere the hint is the OS version; trailing ".0" parts are dropped to match the UA's form
 * ("14.0.0" -> "14", like ua-parser's "Android 14").
 */
function osVersionFromHint(osName: string | undefined, platformVersion: string): string | undefined {
  if (osName === 'Windows') {
    const major = Number.parseInt(platformVersion, 10)
    if (major >= 13) return '11'
    if (major >= 1) return '10'
    return undefined
  }
  return platformVersion.replace(/(?:\.0+)+$/, '')
}

function browserFromHints(browser: UaInfo['browser'], ch: ClientHints): UaInfo['browser'] {
  if (browser.name === undefined) return browser
  const brand = BROWSER_TO_BRAND[browser.name] ?? browser.name
  const full = findBrand(ch.fullVersionList, brand)
  if (full !== undefined) return { ...browser, version: full.version, major: majorOf(full.version) }
  const major = findBrand(ch.brands, brand)
  if (major === undefined) return browser
  const m = majorOf(major.version)
  // A brands entry only carries the major; keep the UA's version when it agrees.
  return { ...browser, major: m, version: browser.major === m ? browser.version : major.version }
}

function findBrand(list: readonly Brand[] | undefined, brand: string): Brand | undefined {
  return list?.find((b) => !GREASE.test(b.brand) && b.brand.toLowerCase() === brand.toLowerCase())
}

function majorOf(version: string): string {
  return version.split('.')[0] ?? version
}

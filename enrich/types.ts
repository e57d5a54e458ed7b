/** What the enrichment steps add to an event. Every step is a pure function of its input. */

export type DeviceType =
  | 'desktop'
  | 'mobile'
  | 'tablet'
  | 'smarttv'
  | 'console'
  | 'wearable'
  | 'embedded'
  | 'bot'
  | 'unknown'

/**
 * Read-only because the user-agent parser hands out cached, frozen objects: a write would throw at
 * run time, so the compiler rejects it first. Build a new object (as mergeClientHints does) instead.
 * OS names use ua-parser-js 1.x's vocabulary ("Mac OS", "Chromium OS", "Windows" with version "10"/"11").
 */
export interface UaInfo {
  readonly browser: { readonly name?: string; readonly version?: string; readonly major?: string }
  readonly engine: { readonly name?: string; readonly version?: string }
  readonly os: { readonly name?: string; readonly version?: string }
  readonly device: { readonly type: DeviceType; readonly vendor?: string; readonly model?: string }
  /** Crawlers, monitoring agents, headless browsers and HTTP libraries. */
  readonly bot: boolean
  /** Which inputs decided the result: the UA string alone, or merged with Client Hints. */
  readonly source: 'ua' | 'ua+ch' | 'none'
}

export interface GeoInfo {
  country?: string
  /** The subdivision's name (ECS source.geo.region_name). */
  region?: string
  /** ECS source.geo.region_iso_code, e.g. `NO-03`, where the database has the code. */
  regionIsoCode?: string
  city?: string
  location?: { lat: number; lon: number }
  /** Accuracy radius of the database entry in km; coarse entries are not good enough for travel rules. */
  accuracyKm?: number
  timezone?: string
}

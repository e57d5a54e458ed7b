import type { Static } from 'typebox'
import type { ClientHintsSchema } from '../core/event-schema.ts'

type ClientHints = Static<typeof ClientHintsSchema>

export interface DeviceProfile {
  name: string
  ua: string
  ch?: ClientHints
  screen: { w: number; h: number }
  network: 'wifi' | 'cellular' | 'ethernet'
}

const chromeBrands = (major: string) => [
  { brand: 'Not_A Brand', version: '8' },
  { brand: 'Chromium', version: major },
  { brand: 'Google Chrome', version: major },
]

/** Real user-agent strings of the devices people use, with the Client Hints their browsers send. */
export const DEVICE_PROFILES: readonly (readonly [DeviceProfile, number])[] = [
  [
    {
      name: 'chrome-windows',
      ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
      ch: {
        brands: chromeBrands('120'),
        fullVersionList: [{ brand: 'Google Chrome', version: '120.0.6099.130' }],
        platform: 'Windows',
        platformVersion: '15.0.0',
        mobile: false,
      },
      screen: { w: 1920, h: 1080 },
      network: 'ethernet',
    },
    30,
  ],
  [
    {
      name: 'edge-windows',
      ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91',
      screen: { w: 1536, h: 864 },
      network: 'ethernet',
    },
    12,
  ],
  [
    {
      name: 'firefox-windows',
      ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0',
      screen: { w: 1920, h: 1200 },
      network: 'wifi',
    },
    8,
  ],
  [
    {
      name: 'safari-mac',
      ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15',
      screen: { w: 1440, h: 900 },
      network: 'wifi',
    },
    14,
  ],
  [
    {
      name: 'safari-iphone',
      ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
      screen: { w: 390, h: 844 },
      network: 'cellular',
    },
    16,
  ],
  [
    {
      name: 'chrome-android',
      ua: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
      ch: {
        brands: chromeBrands('120'),
        fullVersionList: [{ brand: 'Google Chrome', version: '120.0.6099.144' }],
        platform: 'Android',
        platformVersion: '14.0.0',
        model: 'Pixel 8',
        mobile: true,
      },
      screen: { w: 412, h: 915 },
      network: 'cellular',
    },
    12,
  ],
  [
    {
      name: 'safari-ipad',
      ua: 'Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
      screen: { w: 820, h: 1180 },
      network: 'wifi',
    },
    5,
  ],
  [
    {
      name: 'firefox-linux',
      ua: 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
      screen: { w: 2560, h: 1440 },
      network: 'ethernet',
    },
    3,
  ],
]

/** Public addresses that the bundled geo database places in these countries (checked against the bundled GeoLite2 City .mmdb). */
export const IPS_BY_COUNTRY: Readonly<Record<string, readonly string[]>> = {
  NO: ['84.208.20.110', '88.88.100.5', '81.167.34.10', '2a02:2121:1::1'],
  SE: ['83.254.10.3', '90.224.5.4', '31.13.72.36'],
  DE: ['91.64.10.3', '87.123.4.5'],
  GB: ['86.1.2.3', '62.31.2.3'],
  US: ['73.12.4.5', '98.110.2.3', '145.224.2.3'],
  FI: ['91.152.10.20'],
  CA: ['24.48.2.3'],
}

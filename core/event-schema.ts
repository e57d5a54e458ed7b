import { type Static, Type } from 'typebox'
import { Compile } from 'typebox/compile'

/**
 * Event contract v1: the one schema. Runtime validation (the ingest consumer and the collector),
 * the TypeScript type `SporEvent`, the collector's route schema and `schema/event.v1.json` all
 * come from here.
 */

/** What an id (user, session, device, object, event) may look like, here and in API paths. */
export const IDENTIFIER_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$'

const Identifier = (description: string, maxLength = 128) =>
  Type.String({ minLength: 1, maxLength, pattern: IDENTIFIER_PATTERN, description })

const ShortText = (description: string, maxLength = 128) =>
  Type.String({ minLength: 1, maxLength, description })

const Brand = Type.Object(
  { brand: ShortText('brand name', 64), version: ShortText('brand version', 64) },
  { additionalProperties: false },
)

export const ClientHintsSchema = Type.Object(
  {
    brands: Type.Optional(Type.Array(Brand, { maxItems: 10, description: 'Sec-CH-UA' })),
    fullVersionList: Type.Optional(
      Type.Array(Brand, { maxItems: 10, description: 'Sec-CH-UA-Full-Version-List' }),
    ),
    platform: Type.Optional(ShortText('Sec-CH-UA-Platform, e.g. "Android"', 64)),
    // Chrome on Linux sends an empty platform version.
    platformVersion: Type.Optional(Type.String({ maxLength: 64, description: 'Sec-CH-UA-Platform-Version' })),
    model: Type.Optional(Type.String({ maxLength: 128, description: 'Sec-CH-UA-Model' })),
    mobile: Type.Optional(Type.Boolean({ description: 'Sec-CH-UA-Mobile' })),
  },
  { additionalProperties: false, description: 'User-Agent Client Hints as sent by the browser' },
)

export const DeviceSchema = Type.Object(
  {
    ua: Type.Optional(Type.String({ maxLength: 1024, description: 'User-Agent header' })),
    ch: Type.Optional(ClientHintsSchema),
    deviceId: Type.Optional(Identifier('cookie or app-install id identifying the device')),
    screen: Type.Optional(
      Type.Object(
        {
          w: Type.Integer({ minimum: 1, maximum: 100_000 }),
          h: Type.Integer({ minimum: 1, maximum: 100_000 }),
        },
        { additionalProperties: false },
      ),
    ),
    network: Type.Optional(
      Type.Object(
        {
          type: Type.Optional(
            Type.Union([
              Type.Literal('wifi'),
              Type.Literal('cellular'),
              Type.Literal('ethernet'),
              Type.Literal('other'),
            ]),
          ),
          id: Type.Optional(ShortText('network id, e.g. carrier or SSID hash', 128)),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, description: 'Device and connection (S1)' },
)

export const PositionSchema = Type.Object(
  {
    lat: Type.Number({ minimum: -90, maximum: 90 }),
    lon: Type.Number({ minimum: -180, maximum: 180 }),
    accuracyM: Type.Optional(Type.Number({ minimum: 0, maximum: 1_000_000 })),
  },
  { additionalProperties: false, description: 'Position reported by the device (S3)' },
)

export const EventSchema = Type.Object(
  {
    v: Type.Literal(1, { description: 'contract version' }),
    id: Identifier('producer-assigned unique id; the idempotency key'),
    type: Type.String({
      minLength: 3,
      maxLength: 64,
      pattern: '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$',
      description: 'event type, e.g. session.login; its retention class comes from the type table',
    }),
    ts: Type.String({ format: 'date-time', maxLength: 40, description: 'event time, ISO 8601' }),
    tenant: Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: '^[a-z0-9][a-z0-9_-]*$',
      description: 'customer (tenant) id (S3, S11)',
    }),
    user: Type.Optional(Identifier('user id; absent for anonymous events')),
    session: Type.Optional(Identifier('session id')),
    username: Type.Optional(ShortText('login name, only on login attempts (misuse detection, S7)', 256)),
    module: Type.Optional(Identifier('product module (S2)', 64)),
    function: Type.Optional(Identifier('function within the module (S2)', 64)),
    object: Type.Optional(
      Type.Object(
        { type: Identifier('object type', 64), id: Identifier('object id') },
        { additionalProperties: false, description: 'the data worked on: type and id, never content' },
      ),
    ),
    device: Type.Optional(DeviceSchema),
    ip: Type.Optional(
      Type.String({
        anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }],
        maxLength: 45,
        description: 'client IP',
      }),
    ),
    position: Type.Optional(PositionSchema),
    props: Type.Optional(
      Type.Record(
        Type.String({ maxLength: 64, pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }),
        Type.Union([Type.String({ maxLength: 256 }), Type.Number(), Type.Boolean()]),
        { maxProperties: 32, description: 'small bounded map of extra scalars' },
      ),
    ),
  },
  { additionalProperties: false, $id: 'https://spor.dev/schema/event.v1.json', title: 'spor event v1' },
)

export type SporEvent = Static<typeof EventSchema>

const compiled = Compile(EventSchema)

export interface SchemaIssue {
  path: string
  message: string
}

/** Validates one decoded value against the contract; returns the issues (at most `limit`). */
export function validateEvent(
  value: unknown,
  limit = 10,
): { ok: true; event: SporEvent } | { ok: false; issues: SchemaIssue[] } {
  if (compiled.Check(value)) return { ok: true, event: value }
  const issues: SchemaIssue[] = []
  for (const error of compiled.Errors(value)) {
    // `additionalProperties: false` reports the same extra key twice; keep the readable one.
    if (error.keyword === 'boolean') continue
    const extra = (error.params as { additionalProperties?: string[] }).additionalProperties
    issues.push({
      path: error.instancePath || '/',
      message: extra ? `${error.message}: ${extra.join(', ')}` : error.message,
    })
    if (issues.length >= limit) break
  }
  return { ok: false, issues }
}

/** The JSON Schema document published as schema/event.v1.json and in the OpenAPI docs. */
export function eventJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    ...JSON.parse(JSON.stringify(EventSchema)),
  }
}

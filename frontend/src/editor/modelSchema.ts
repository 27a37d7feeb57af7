// The model settings form comes from GET /api/spec-schema/ (properties.model), converted to the
// same ParamSchema list as blocks use: fields, ranges, defaults and help text (e.g. what
// allow_noncausal means) are the server's. Until it loads the form is empty; no copy is kept here.
import { useEffect, useState } from 'react'
import { fetchSpecSchema } from '../api'
import type { ModelSettings, ParamSchema } from '../types'

/** JSON Schema property -> ParamSchema. */
export function fromJsonSchema(name: string, prop: any): ParamSchema {
  const type = prop.enum ? 'choice' : prop.type === 'integer' ? 'int' : prop.type === 'number' ? 'float' : prop.type === 'boolean' ? 'bool' : 'float'
  return {
    name, type, default: prop.default ?? null,
    min: prop.minimum ?? null, max: prop.maximum ?? null,
    choices: prop.enum ?? null, help: prop.description ?? '',
  }
}

let request: Promise<ParamSchema[]> | null = null
let cache: ParamSchema[] | null = null

/** The model settings' fields, asked once per page load (a failure is asked again next time). */
export function loadModelSchema(): Promise<ParamSchema[]> {
  request ??= fetchSpecSchema().then((s: any) => {
    const props = s?.properties?.model?.properties
    if (!props || typeof props !== 'object') throw new Error('the spec schema (GET /api/spec-schema/) has no model settings')
    cache = Object.entries(props).map(([k, v]) => fromJsonSchema(k, v))
    return cache
  }).catch((e) => { request = null; throw e })
  return request
}

/** The defaults of the model settings: what a new graph starts with. */
export function modelDefaults(fields: ParamSchema[]): Partial<ModelSettings> {
  return Object.fromEntries(fields.map((f) => [f.name, f.default])) as Partial<ModelSettings>
}

export function useModelSchema(): ParamSchema[] {
  const [schema, setSchema] = useState<ParamSchema[]>(cache ?? [])
  useEffect(() => {
    if (cache) return
    loadModelSchema().then(setSchema).catch(() => undefined)
  }, [])
  return schema
}

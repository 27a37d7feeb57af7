// The model settings form comes from GET /api/spec-schema/ (properties.model), converted to the
// same ParamSchema list as blocks use: fields, ranges, defaults and help text (e.g. what
// allow_noncausal means) are the server's. Until it loads the form is empty; no copy is kept here.
import { useEffect, useState } from 'react'
import { fetchSpecSchema } from '../api'
import type { ParamSchema } from '../types'

/** JSON Schema property -> ParamSchema. */
export function fromJsonSchema(name: string, prop: any): ParamSchema {
  const type = prop.enum ? 'choice' : prop.type === 'integer' ? 'int' : prop.type === 'number' ? 'float' : prop.type === 'boolean' ? 'bool' : 'float'
  return {
    name, type, default: prop.default ?? null,
    min: prop.minimum ?? null, max: prop.maximum ?? null,
    choices: prop.enum ?? null, help: prop.description ?? '',
  }
}

let cache: ParamSchema[] | null = null

export function useModelSchema(): ParamSchema[] {
  const [schema, setSchema] = useState<ParamSchema[]>(cache ?? [])
  useEffect(() => {
    if (cache) return
    fetchSpecSchema().then((s: any) => {
      const props = s?.properties?.model?.properties
      if (props && typeof props === 'object') {
        cache = Object.entries(props).map(([k, v]) => fromJsonSchema(k, v))
        setSchema(cache)
      }
    }).catch(() => undefined)
  }, [])
  return schema
}

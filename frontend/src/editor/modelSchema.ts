// The model settings form comes from GET /api/spec-schema/ (properties.model), converted to the
// same ParamSchema list as blocks use. Until it loads, the documented fields are used.
import { useEffect, useState } from 'react'
import { fetchSpecSchema } from '../api'
import type { ParamSchema } from '../types'

const FALLBACK: ParamSchema[] = [
  { name: 'd_model', type: 'int', default: 128, min: 8, max: 4096, choices: null, help: 'Width of the residual stream.' },
  { name: 'max_seq_len', type: 'int', default: 512, min: 8, max: 65536, choices: null, help: 'Longest sequence the model accepts; costs are computed at this length.' },
  { name: 'norm', type: 'choice', default: 'rmsnorm', min: null, max: null, choices: ['rmsnorm', 'layernorm'], help: 'Normalisation used by every pre-norm residual.' },
  { name: 'tie_embeddings', type: 'bool', default: true, min: null, max: null, choices: null, help: 'Share the token embedding with the LM head.' },
  { name: 'allow_noncausal', type: 'bool', default: false, min: null, max: null, choices: null, help: 'Allow non-causal blocks (e.g. FNet) in the causal LM.' },
]

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
  const [schema, setSchema] = useState<ParamSchema[]>(cache ?? FALLBACK)
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

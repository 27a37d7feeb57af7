// Client-side check of a value against a registry ParamSchema (mirrors Param.check in
// blocks/registry.py), so a form shows the problem before the server answers.
import type { ParamSchema, Params } from '../types'

export function checkParam(p: ParamSchema, value: unknown): string | null {
  if (p.nullable && value == null) return null
  if (p.type === 'bool') return typeof value === 'boolean' ? null : 'must be true or false'
  if (p.type === 'choice') return (p.choices ?? []).some((c) => c === value) ? null : `must be one of ${JSON.stringify(p.choices)}`
  if (typeof value !== 'number' || !Number.isFinite(value)) return p.type === 'int' ? 'must be an integer' : 'must be a finite number'
  if (p.type === 'int' && !Number.isInteger(value)) return 'must be an integer'
  if (p.min != null && value < p.min) return `must be >= ${p.min}`
  if (p.max != null && value > p.max) return `must be <= ${p.max}`
  return null
}

export function defaultsOf(schema: ParamSchema[]): Params {
  return Object.fromEntries(schema.map((p) => [p.name, p.default]))
}

export function firstProblem(schema: ParamSchema[], values: Params): string | null {
  for (const p of schema) {
    const problem = checkParam(p, values[p.name] ?? p.default)
    if (problem) return `${p.name} ${problem}`
  }
  return null
}

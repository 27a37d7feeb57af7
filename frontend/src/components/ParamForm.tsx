// One generic form for every typed parameter list: block params, task params, model settings,
// training hyper-parameters. Types, ranges, choices and help all come from the schema.
import { memo, useEffect, useId, useState } from 'react'
import type { ParamSchema, Params } from '../types'
import { checkParam } from '../lib/params'

interface ParamFormProps {
  schema: ParamSchema[]
  values: Params
  onChange: (name: string, value: unknown) => void
  /** Server-side messages by param name. */
  errors?: Record<string, string>
  testid?: string
  disabled?: boolean
}

export const ParamForm = memo(function ParamForm({ schema, values, onChange, errors = {}, testid = 'param', disabled }: ParamFormProps) {
  if (!schema.length) return <p className="muted small">No parameters.</p>
  return (
    <div className="param-form">
      {schema.map((p) => (
        <ParamField
          key={p.name}
          param={p}
          value={values[p.name] ?? p.default}
          serverError={errors[p.name]}
          onChange={onChange}
          testid={`${testid}-${p.name}`}
          disabled={disabled}
        />
      ))}
    </div>
  )
})

interface FieldProps {
  param: ParamSchema
  value: unknown
  serverError?: string
  onChange: (name: string, value: unknown) => void
  testid: string
  disabled?: boolean
}

function rangeHint(p: ParamSchema): string {
  if (p.min != null && p.max != null) return `${p.min} – ${p.max}`
  if (p.min != null) return `≥ ${p.min}`
  if (p.max != null) return `≤ ${p.max}`
  return ''
}

function ParamField({ param: p, value, serverError, onChange, testid, disabled }: FieldProps) {
  const id = useId()
  const helpId = `${id}-help`
  const errId = `${id}-err`
  const [text, setText] = useState(String(value ?? ''))
  const [localError, setLocalError] = useState<string | null>(null)
  useEffect(() => { setText(String(value ?? '')); setLocalError(null) }, [value])

  const error = localError ?? serverError ?? null
  const described = [p.help ? helpId : '', error ? errId : ''].filter(Boolean).join(' ') || undefined

  const commitNumber = (raw: string) => {
    setText(raw)
    if (raw.trim() === '' && p.nullable) { setLocalError(null); onChange(p.name, null); return }
    const v = raw.trim() === '' ? NaN : Number(raw)
    const problem = checkParam(p, v)
    setLocalError(problem)
    if (!Number.isNaN(v) && (p.type !== 'int' || Number.isInteger(v))) onChange(p.name, v)
  }

  let control
  if (p.type === 'bool') {
    control = (
      <input id={id} type="checkbox" checked={Boolean(value)} disabled={disabled}
        aria-describedby={described} data-testid={testid}
        onChange={(e) => onChange(p.name, e.target.checked)} />
    )
  } else if (p.type === 'choice') {
    const choices = p.choices ?? []
    control = (
      <select id={id} value={String(value)} disabled={disabled} aria-describedby={described} data-testid={testid}
        onChange={(e) => onChange(p.name, choices.find((c) => String(c) === e.target.value))}>
        {choices.map((c) => <option key={String(c)} value={String(c)}>{String(c)}</option>)}
      </select>
    )
  } else {
    control = (
      <input id={id} type="number" inputMode={p.type === 'int' ? 'numeric' : 'decimal'}
        value={text} disabled={disabled}
        min={p.min ?? undefined} max={p.max ?? undefined} step={p.type === 'int' ? 1 : 'any'}
        aria-invalid={error ? true : undefined} aria-describedby={described} data-testid={testid}
        onChange={(e) => commitNumber(e.target.value)} />
    )
  }

  return (
    <div className={`field${error ? ' field-invalid' : ''}${p.type === 'bool' ? ' field-bool' : ''}`}>
      <label htmlFor={id}>
        <span className="field-name">{p.name.replace(/_/g, ' ')}</span>
        {p.type !== 'bool' && p.type !== 'choice' && <span className="field-range">{rangeHint(p)}</span>}
      </label>
      {control}
      {p.help && <div id={helpId} className="field-help">{p.help}</div>}
      {error && <div id={errId} className="field-error" role="alert" data-testid={`${testid}-error`}>{error}</div>}
    </div>
  )
}

// Sign up and log in.
import { useState } from 'react'
import { ApiError, login, primeCsrf, signup } from '../api'
import { Link, navigate, useLocation } from '../router'
import { useSession } from '../store/session'

export function AuthPage({ mode }: { mode: 'login' | 'signup' }) {
  const { query } = useLocation()
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [email, setEmail] = useState('')
  const [error, setError] = useState('')
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({})
  const [busy, setBusy] = useState(false)
  const refresh = useSession((s) => s.refresh)

  const submit = async (e: React.FormEvent) => {
    e.preventDefault()
    setBusy(true); setError(''); setFieldErrors({})
    try {
      await primeCsrf()
      if (mode === 'signup') await signup(username, password, email)
      else await login(username, password)
      await refresh()
      navigate(query.get('next') || '/')
    } catch (err) {
      setError((err as Error).message)
      if (err instanceof ApiError && err.extra.fields && typeof err.extra.fields === 'object') {
        const f: Record<string, string> = {}
        for (const [k, v] of Object.entries(err.extra.fields as Record<string, unknown>)) f[k] = Array.isArray(v) ? v.join(' ') : String(v)
        setFieldErrors(f)
      }
    } finally {
      setBusy(false)
    }
  }

  const title = mode === 'login' ? 'Log in' : 'Create an account'
  return (
    <main className="page auth-page">
      <form className="card stack auth-card" onSubmit={submit} aria-label={title} data-testid={`${mode}-form`}>
        <h1>{title}</h1>
        <label>Username
          <input autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required data-testid="auth-username" />
          {fieldErrors.username && <span className="field-error">{fieldErrors.username}</span>}
        </label>
        {mode === 'signup' && (
          <label>Email (optional)
            <input type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} data-testid="auth-email" />
          </label>
        )}
        <label>Password
          <input type="password" autoComplete={mode === 'login' ? 'current-password' : 'new-password'} value={password}
            onChange={(e) => setPassword(e.target.value)} required minLength={mode === 'signup' ? 8 : undefined} data-testid="auth-password" />
          {fieldErrors.password && <span className="field-error">{fieldErrors.password}</span>}
        </label>
        {error && <p className="field-error" role="alert" data-testid="auth-error">{error}</p>}
        <button type="submit" className="primary" disabled={busy} data-testid="auth-submit">{busy ? '…' : title}</button>
        <p className="small">
          {mode === 'login'
            ? <>No account? <Link to="/signup">Sign up</Link></>
            : <>Have an account? <Link to="/login">Log in</Link></>}
        </p>
      </form>
    </main>
  )
}

// The shell: a header with navigation and the page for the current path.
import { Suspense, lazy, useEffect } from 'react'
import { logout } from './api'
import { EditorPage } from './editor/EditorPage'
import { AuthPage } from './pages/AuthPage'
import { GalleryPage } from './pages/GalleryPage'
import { GraphPage } from './pages/GraphPage'
import { RunPage } from './pages/RunPage'
import { SharedGraphPage } from './pages/SharedGraphPage'
import { Link, matchRoute, navigate, useLocation } from './router'
import { useSession } from './store/session'

// Chart-heavy pages load on first visit, keeping the initial bundle small.
const ComparePage = lazy(() => import('./pages/ComparePage').then((m) => ({ default: m.ComparePage })))
const CardPage = lazy(() => import('./pages/CardPage').then((m) => ({ default: m.CardPage })))
const LeaderboardPage = lazy(() => import('./pages/LeaderboardPage').then((m) => ({ default: m.LeaderboardPage })))

function Header() {
  const user = useSession((s) => s.user)
  const refresh = useSession((s) => s.refresh)
  const out = async () => { await logout().catch(() => undefined); await refresh(); navigate('/') }
  return (
    <header className="app-header">
      <Link to="/" className="brand" aria-label="Composer home">◆ Composer</Link>
      <nav aria-label="Main">
        <Link to="/">Gallery</Link>
        <Link to="/editor" data-testid="nav-editor">Editor</Link>
        <Link to="/compare">Compare</Link>
        <Link to="/leaderboard" data-testid="nav-leaderboard">Leaderboard</Link>
      </nav>
      <span className="toolbar-spacer" />
      {user ? (
        <span className="row"><span className="small" data-testid="current-user">{user.username}</span>
          <button type="button" className="link" onClick={out} data-testid="logout">Log out</button></span>
      ) : (
        <span className="row"><Link to="/login" data-testid="nav-login">Log in</Link><Link to="/signup" className="button primary" data-testid="nav-signup">Sign up</Link></span>
      )}
    </header>
  )
}

function Page() {
  const { path } = useLocation()
  const route = matchRoute(path)
  switch (route.name) {
    case 'gallery': return <GalleryPage />
    case 'login': return <AuthPage key="login" mode="login" />
    case 'signup': return <AuthPage key="signup" mode="signup" />
    case 'editor': return <EditorPage graphId={route.params.id} />
    case 'graph': return <GraphPage id={route.params.id} />
    case 'shared': return <SharedGraphPage key={route.params.token} token={route.params.token} />
    case 'run': return <RunPage key={route.params.id} id={route.params.id} />
    case 'compare': return <ComparePage />
    case 'card': return <CardPage key={route.params.id} id={route.params.id} />
    case 'leaderboard': return <LeaderboardPage />
    default: return <main className="page"><h1>Not found</h1><p><Link to="/">Back to the gallery</Link></p></main>
  }
}

export function App() {
  const refresh = useSession((s) => s.refresh)
  useEffect(() => { void refresh() }, [refresh])
  return (
    <div className="app">
      <Header />
      <Suspense fallback={<main className="page"><p className="muted">Loading…</p></main>}>
        <Page />
      </Suspense>
    </div>
  )
}

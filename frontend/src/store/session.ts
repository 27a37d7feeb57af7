// Who is logged in; loaded once at start and after login/logout.
import { create } from 'zustand'
import { fetchMe } from '../api'
import type { User } from '../types'

interface SessionState {
  user: User | null
  loaded: boolean
  refresh: () => Promise<User | null>
  setUser: (u: User | null) => void
}

export const useSession = create<SessionState>()((set) => ({
  user: null,
  loaded: false,
  refresh: async () => {
    const user = await fetchMe().catch(() => null)
    set({ user, loaded: true })
    return user
  },
  setUser: (user) => set({ user, loaded: true }),
}))

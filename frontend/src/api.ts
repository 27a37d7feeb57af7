// Every call to the backend lives here, so adapting to the API is one edit.
import type {
  BlockType, CardSuite, Graph, GraphVersion, Limits, Params, ReportCard, Run, RunMessage, Spec, TaskType, User,
  ValidationResult, Visibility,
} from './types'
import { withGroupSlots } from './lib/groups'

export class ApiError extends Error {
  status: number
  extra: Record<string, unknown>
  constructor(status: number, message: string, extra: Record<string, unknown> = {}) {
    super(message)
    this.status = status
    this.extra = extra
  }
}

/** An error for people: the message, then each field error the API named (extra.errors). */
export function errorText(e: unknown): string {
  const extra = e instanceof ApiError && Array.isArray(e.extra.errors) ? `: ${(e.extra.errors as { message: string }[]).map((x) => x.message).join('; ')}` : ''
  return `${(e as Error).message}${extra}`
}

function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/)
  return match ? decodeURIComponent(match[1]) : ''
}

async function request<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (method !== 'GET') headers['X-CSRFToken'] = csrfToken()
  const res = await fetch(url, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  let data: any = null
  if (text) {
    try { data = JSON.parse(text) } catch { data = text }
  }
  if (!res.ok) {
    const message = (data && typeof data === 'object' && data.message) || `${res.status} ${res.statusText}`
    throw new ApiError(res.status, String(message), (data && data.extra) || {})
  }
  return data as T
}

const get = <T,>(url: string) => request<T>('GET', url)
const post = <T,>(url: string, body: unknown = {}) => request<T>('POST', url, body)

/** A list that may be paginated by DRF ({results}) or plain. */
function items<T>(data: any): T[] {
  if (Array.isArray(data)) return data
  if (data && Array.isArray(data.results)) return data.results
  return []
}

function qs(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '' && v !== false) q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}

// ---- normalisers: tolerate small differences in field names -----------------------------

function normGraph(g: any): Graph {
  const owner = g.owner && typeof g.owner === 'object' ? g.owner.username : g.owner
  const parentId = g.forked_from && typeof g.forked_from === 'object' ? g.forked_from.id : g.forked_from
  return {
    id: g.id,
    name: g.title ?? g.name ?? 'Untitled',
    description: g.description ?? '',
    visibility: g.visibility ?? 'private',
    owner: owner ?? '',
    is_template: Boolean(g.is_template),
    spec: g.spec,
    version: g.version ?? 0,
    stars: g.star_count ?? g.stars ?? 0,
    starred: Boolean(g.starred),
    forked_from: parentId != null ? {
      id: parentId, name: g.forked_from_title ?? `#${parentId}`, version: g.forked_from_version ?? undefined,
      owner: g.forked_from_owner ?? undefined, link: g.forked_from_link ?? `/graphs/${parentId}`,
    } : null,
    share_token: g.share_token ?? null,
    updated: g.updated_at ?? g.updated ?? '',
    can_edit: Boolean(g.can_edit),
    tags: g.tags ?? [],
  }
}

function normRun(r: any): Run {
  const graph = r.graph && typeof r.graph === 'object' ? { id: r.graph.id, name: r.graph.title ?? r.graph.name }
    : r.graph != null ? { id: r.graph, name: r.graph_title ?? `Graph ${r.graph}` } : null
  const hyper = r.hyper ?? {}
  return {
    id: r.id,
    graph,
    version: r.version ?? null,
    task: r.task ?? '',
    task_params: r.task_params ?? {},
    hparams: { ...hyper, ...(r.budget ?? {}), ...(r.seed != null ? { seed: r.seed } : {}) },
    status: r.status ?? 'queued',
    queue_position: r.queue_position ?? null,
    created: r.created_at ?? '',
    started: r.started_at ?? null,
    finished: r.finished_at ?? null,
    result: r.final_metrics && Object.keys(r.final_metrics).length ? r.final_metrics : null,
    error: r.error_message ?? '',
    metrics: [],
    steps: hyper.steps ?? null,
    owner: r.user ?? '',
  }
}

// ---- registries ------------------------------------------------------------------------

let limitsRequest: Promise<Limits> | null = null
/** GET /api/limits/, asked once per page load (the server caches it too); a failure is asked again next time. */
export function fetchLimits(): Promise<Limits> {
  limitsRequest ??= get<Limits>('/api/limits/').catch((e) => { limitsRequest = null; throw e })
  return limitsRequest
}
/** The registry's blocks, group blocks carrying their slots from the limits (lib/groups.ts). */
export const fetchBlocks = async () => {
  const [blocks, limits] = await Promise.all([get('/api/blocks/'), fetchLimits()])
  return withGroupSlots(items<BlockType>(blocks), limits.group_slots)
}
export const fetchTasks = async () => items<TaskType>(await get('/api/tasks/'))
export const fetchSpecSchema = () => get<unknown>('/api/spec-schema/')

// ---- accounts --------------------------------------------------------------------------

export async function fetchMe(): Promise<User | null> {
  try {
    const me = await get<any>('/api/me/')
    return me && me.username ? me : null
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return null
    throw e
  }
}
export const signup = (username: string, password: string, email = '') =>
  post<User>('/api/auth/signup/', { username, password, email })
export const login = (username: string, password: string) =>
  post<User>('/api/auth/login/', { username, password })
export const logout = () => post('/api/auth/logout/')
/** GET something harmless first so Django sets the csrftoken cookie. */
export const primeCsrf = () => get('/api/auth/csrf/').catch(() => null)

// ---- graphs ----------------------------------------------------------------------------

export type GalleryScope = 'templates' | 'public' | 'mine' | 'starred' | 'all'

export interface GalleryQuery {
  scope: GalleryScope
  q?: string
  /** Only graphs using this block type. */
  block?: string
  ordering?: 'recent' | 'stars' | 'forks'
  page?: number
}

export async function listGraphs(query: GalleryQuery): Promise<{ items: Graph[]; count: number }> {
  const { scope, ...rest } = query
  const data = await get<any>(`/api/graphs/${qs({ filter: scope, ...rest })}`)
  const list = items<any>(data).map(normGraph)
  return { items: list, count: data?.count ?? list.length }
}
export const getGraph = async (id: string | number) => normGraph(await get(`/api/graphs/${id}/`))
export const createGraph = async ({ name, ...body }: { name: string; description?: string; spec: Spec; visibility?: Visibility; message?: string }) =>
  normGraph(await post('/api/graphs/', { title: name, ...body }))
/** Saving a spec creates a new version with a message. */
export const saveGraph = async (id: string | number, { name, ...body }: { spec?: Spec; message?: string; name?: string; description?: string; visibility?: Visibility }) =>
  normGraph(await request('PATCH', `/api/graphs/${id}/`, name !== undefined ? { title: name, ...body } : body))
export const deleteGraph = (id: string | number) => request('DELETE', `/api/graphs/${id}/`)
export const forkGraph = async (id: string | number, title?: string) =>
  normGraph(await post(`/api/graphs/${id}/fork/`, title ? { title } : {}))
// An unlisted graph's link carries its token, never its id (GET /api/graphs/shared/<token>/).
export const getSharedGraph = async (token: string) => normGraph(await get(`/api/graphs/shared/${encodeURIComponent(token)}/`))
export const forkSharedGraph = async (token: string) =>
  normGraph(await post(`/api/graphs/shared/${encodeURIComponent(token)}/fork/`, {}))
export const sharedDiagramUrl = (token: string) => `/api/graphs/shared/${encodeURIComponent(token)}/diagram.svg`
export const sharedExportUrl = (token: string, format: 'json' | 'py') =>
  `/api/graphs/shared/${encodeURIComponent(token)}/export/?format=${format}`
export const listVersions = async (id: string | number) =>
  items<any>(await get(`/api/graphs/${id}/versions/?page_size=100`)).map((v): GraphVersion => ({
    number: v.number, message: v.message ?? '', created: v.created_at ?? '', author: v.created_by ?? '',
  }))
export const getVersion = (id: string | number, n: number) => get<GraphVersion & { spec: Spec }>(`/api/graphs/${id}/versions/${n}/`)
export const restoreVersion = (id: string | number, n: number) =>
  post<{ number: number }>(`/api/graphs/${id}/versions/${n}/restore/`, { message: `Restored v${n}` })
export const diffVersions = (id: string | number, a: number, b: number) =>
  get<any>(`/api/graphs/${id}/diff/${qs({ a, b })}`)
export const setStar = (id: string | number, on: boolean) =>
  request(on ? 'POST' : 'DELETE', `/api/graphs/${id}/star/`)
export const getLineage = (id: string | number) => get<any>(`/api/graphs/${id}/lineage/`)
export const validateSpec = (spec: Spec, signal?: AbortSignal) =>
  fetch('/api/graphs/validate/', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrfToken() },
    body: JSON.stringify({ spec }),
    signal,
  }).then(async (res) => {
    const data = await res.json().catch(() => null)
    if (data && 'ok' in data) return data as ValidationResult
    if (data?.extra?.errors) return { ok: false, errors: data.extra.errors, cost: null } as ValidationResult
    throw new ApiError(res.status, data?.message ?? `${res.status}`)
  })
export const diagramUrl = (id: string | number) => `/api/graphs/${id}/diagram.svg`
export const exportUrl = (id: string | number, format: 'json' | 'py') => `/api/graphs/${id}/export/?format=${format}`
// ---- runs ------------------------------------------------------------------------------

export interface LaunchBody {
  task: string
  task_params: Params
  /** Hyper-parameters and budget, sent flat (lr, batch_size, steps, seed, max_seconds, max_tokens). */
  hparams: Params
  version?: number
}
export const launchRun = async (graphId: string | number, { hparams, ...body }: LaunchBody) =>
  normRun(await post(`/api/graphs/${graphId}/runs/`, { ...hparams, ...body }))
/** `standalone`: leave report cards' runs out. */
export const listRuns = async (filter: { graph?: string | number; task?: string; status?: string; standalone?: boolean } = {}) =>
  items<any>(await get(`/api/runs/${qs(filter)}`)).map(normRun)
export const getRun = async (id: string | number) => normRun(await get(`/api/runs/${id}/`))
export const cancelRun = async (id: string | number) => normRun(await post(`/api/runs/${id}/cancel/`))
export const getRunEvents = (id: string | number, since = 0) =>
  get<{ run: number; status: string; events: RunMessage[]; last_seq: number }>(`/api/runs/${id}/metrics/${qs({ since })}`)

export interface CompareRun {
  id: number; graph: number; graph_title: string; version: number; task: string; status: string
  hyper: Params; final_metrics: Record<string, unknown>
  task_params: Params; budget: Params; seed?: number
  /** The cost model's numbers at launch (forward FLOPs per token). */
  cost?: { params?: number; flops_per_token?: number }
  /** "<split>.<metric>" -> one value (or null) per step. */
  series: Record<string, (number | null)[]>
}
export interface CompareResult {
  steps: number[]
  runs: CompareRun[]
}
export const compareRuns = (ids: (string | number)[]) =>
  get<CompareResult>(`/api/runs/compare/${qs({ ids: ids.join(',') })}`)

// ---- report cards (composer/cards/apis.py) ------------------------------------------------

export const fetchSuites = async () => items<CardSuite>(await get('/api/report-cards/suites/'))
export interface CardLaunchBody { suite: string; params?: number; state?: number; seeds: number; version?: number }
export const launchCard = (graphId: string | number, body: CardLaunchBody) =>
  post<ReportCard>(`/api/graphs/${graphId}/report-cards/`, body)
export interface CardPlan {
  suite: string; budget: { kind: 'params' | 'state'; value: number }; seeds: number[]; version: number
  params: number; state_bytes: number; d_model: number; runs: number; estimate_seconds: number; notes: string[]
}
/** What a launch would train (size at the budget, runs, the server's estimate), checked the same way; creates nothing. */
export const planCard = (graphId: string | number, body: CardLaunchBody) =>
  post<CardPlan>(`/api/graphs/${graphId}/report-cards/plan/`, body)
export const getCard = (id: string | number) => get<ReportCard>(`/api/report-cards/${id}/`)
export const cancelCard = (id: string | number) => post<ReportCard>(`/api/report-cards/${id}/cancel/`)
export interface CardQuery { suite?: string; graph?: string | number; budget_kind?: string; budget?: number; status?: string; order?: '-score' | '-created_at'; page_size?: number }
export const listCards = async (query: CardQuery = {}) => items<ReportCard>(await get(`/api/report-cards/${qs({ ...query })}`))
export function cardSocketUrl(id: string | number): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${proto}//${location.host}/ws/cards/${id}/`
}

/** The websocket address for a run, resuming after `since`. */
export function runSocketUrl(id: string | number, since: number): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${proto}//${location.host}/ws/runs/${id}/?since=${since}`
}

export { normGraph, normRun }

/** Whether this user may change the graph (its owner). */
/** Whether the user may change the graph: the server's answer (the detail's can_edit), while logged in. */
export const canEditGraph = (g: Graph, user: User | null) => Boolean(user && g.can_edit)
export type { Params }

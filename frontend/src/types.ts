// Shapes shared with the backend (see docs/ARCHITECTURE.md and blocks/registry.py).

export type ParamType = 'int' | 'float' | 'bool' | 'choice'

/** One typed parameter, as served by Param.to_json() (blocks and tasks alike). */
export interface ParamSchema {
  name: string
  type: ParamType
  default: unknown
  min: number | null
  max: number | null
  choices: unknown[] | null
  help: string
  /** The field may be left empty (null), e.g. a run's seed or token budget. */
  nullable?: boolean
}

/** One registry entry, as served by GET /api/blocks/ (BlockType.to_json()). */
export interface BlockType {
  name: string
  family: string
  title: string
  description: string
  paper: string
  params: ParamSchema[]
  complexity: string
  causal: boolean | string
  recurrent: boolean
  residual: boolean
  structural: boolean
  /** Whether the node takes several incoming edges (a merge); every other node takes one. */
  many_inputs: boolean
  tags: string[]
  /** A group block's slots (null: the one unnamed slot), from GET /api/limits/ group_slots (lib/groups.ts). */
  slots?: (string | null)[]
}

export interface TaskType {
  name: string
  title: string
  description: string
  params: ParamSchema[]
  metrics?: string[]
}

export type Params = Record<string, unknown>

export interface SpecNode {
  id: string
  type: string
  params?: Params
  parent?: string
  slot?: string
}

export interface ModelSettings {
  d_model: number
  max_seq_len: number
  norm: string
  tie_embeddings: boolean
  allow_noncausal: boolean
  [key: string]: unknown
}

export interface Spec {
  version: number
  model: ModelSettings
  nodes: SpecNode[]
  edges: [string, string][]
  layout?: Record<string, { x: number; y: number; w?: number; h?: number }>
}

export interface SpecError {
  node_id: string | null
  field: string
  message: string
  code: string
}

export interface CostSummary {
  params: number
  flops_per_token: number
  activation_bytes: number
  state_bytes?: number // inference state (KV caches, recurrent states) at max_seq_len
  complexity: string
  per_node?: { id: string; params?: number; flops_per_token?: number; activation_bytes?: number; state_bytes?: number }[]
}

export interface ValidationResult {
  ok: boolean
  errors: SpecError[]
  cost: CostSummary | null
}

export type Visibility = 'private' | 'unlisted' | 'public'

export interface Graph {
  id: number | string
  name: string
  description: string
  visibility: Visibility
  owner: string
  is_template: boolean
  spec: Spec
  version: number
  stars: number
  starred: boolean
  /** Where it was forked from: whose graph, which version, and the browser path to open it (null: not yours to open). */
  forked_from: { id: number | string; name: string; version?: number; owner?: string; link?: string | null } | null
  /** The secret of the unlisted link /graphs/u/<token>; only the owner is told it. */
  share_token: string | null
  updated: string
  can_edit: boolean
  tags: string[]
}

/** GET /api/limits/: what the server enforces, so that the browser keeps no copy of it. */
export interface Limits {
  runs: Record<string, number>
  launch: { hyper: ParamSchema[]; budget: ParamSchema[] }
  cards: { max_seeds: number | null }
  spec: { max_nodes: number; max_layers: number; max_params: number; max_activation_bytes: number; max_d_model: number; max_seq_len: number; max_depth: number }
  group_slots: Record<string, (string | null)[]>
  required_slots: Record<string, (string | null)[]>
}

export interface GraphVersion {
  number: number
  message: string
  created: string
  author: string
}

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'

export interface MetricPoint {
  step: number
  split: 'train' | 'eval'
  loss?: number
  accuracy?: number
  tokens_per_s?: number
  elapsed_s?: number
  lr?: number
  [key: string]: unknown
}

export interface Run {
  id: number | string
  graph: { id: number | string; name: string } | null
  version: number | null
  task: string
  task_params: Params
  hparams: Params
  status: RunStatus
  queue_position: number | null
  created: string
  started: string | null
  finished: string | null
  result: Record<string, unknown> | null
  error: string
  metrics: MetricPoint[]
  steps: number | null
  owner: string
}

export interface User {
  id: number
  username: string
}

/** A websocket message from /ws/runs/{id}/. */
export interface RunMessage {
  type: 'status' | 'metrics' | 'log' | 'done' | 'error'
  run: number | string
  seq: number
  [key: string]: unknown
}

// ---- report cards (composer/cards, workers/report_card.py) --------------------------------

export interface CardSuite {
  name: string
  title: string
  description: string
  device: 'cpu' | 'gpu' | string
  tasks: { task: string; setting: string; task_params: Params; steps: number; batch_size: number }[]
  sweep: { lr: number; weight_decay: number }[]
  task_names: string[]
  runs_per_seed: number
  default_params: number
}

/** One planned run of a card and the state of its run. */
export interface CardEntry {
  key: string
  task: string
  setting: string
  seed: number
  lr: number | null
  weight_decay: number | null
  run: number | null
  status: RunStatus | null
  worker: string
  eval_accuracy: number | null
  wall_seconds: number | null
  error: string
}

export interface CardSummaryRow {
  task: string
  setting: string
  best_accuracy: number | null
  spread: number | null
  per_seed: Record<string, number | null>
  wall_seconds: number
}

export interface CardSummary {
  rows?: CardSummaryRow[]
  tasks?: Record<string, number>
  score?: number | null
  complete?: boolean
  failed?: string[]
  cancelled?: string[]
  pending?: string[]
  wall_seconds?: number
}

export type CardStatus = 'queued' | 'running' | 'succeeded' | 'partial' | 'failed' | 'cancelled'

export interface ReportCard {
  id: number
  graph: number
  graph_title: string
  version: number
  user: string
  suite: string
  budget: { kind: 'params' | 'state'; value: number }
  seeds: number
  status: CardStatus
  cancel_requested: boolean
  public: boolean
  params: number | null
  state_bytes: number | null
  estimate_seconds: number | null
  score: number | null
  task_scores: Record<string, number> | null
  wall_seconds: number | null
  graph_is_template: boolean
  progress: { total: number; done: number; [status: string]: number }
  created_at: string
  finished_at: string | null
  // Detail only:
  notes?: string[]
  entries?: CardEntry[]
  summary?: CardSummary
}

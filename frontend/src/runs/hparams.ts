// Training hyper-parameters and budget (workers/trainer.py TrainConfig). If GET /api/tasks/
// serves a `train_params` schema, it wins; this list is the documented fallback.
import type { ParamSchema } from '../types'

const p = (name: string, type: ParamSchema['type'], def: unknown, min: number | null, max: number | null, help: string): ParamSchema =>
  ({ name, type, default: def, min, max, choices: null, help })

// The fields of POST /api/graphs/{id}/runs/ (composer/runs/apis.py RunLaunchApi).
export const TRAIN_PARAMS: ParamSchema[] = [
  p('steps', 'int', 200, 1, 100000, 'Optimizer steps.'),
  p('batch_size', 'int', 16, 1, 1024, 'Sequences per step.'),
  p('lr', 'float', 3e-3, 1e-7, 1, 'Peak learning rate (AdamW, warm-up then cosine).'),
  p('seed', 'int', 0, 0, 2 ** 31 - 1, 'Seed for weights and data.'),
]

export const BUDGET_PARAMS: ParamSchema[] = [
  p('max_seconds', 'int', 300, 1, 86400, 'Stop after this many seconds of training.'),
  p('max_tokens', 'int', 100_000_000, 1, 10_000_000_000, 'Stop after this many training tokens.'),
]

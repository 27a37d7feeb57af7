import { describe, expect, it } from 'vitest'
import { groupSlots, isGroupBlock, withGroupSlots } from '../lib/groups'
import { checkParam, firstProblem } from '../lib/params'
import { forkOrigin, sharePath } from '../lib/share'
import type { BlockType, ParamSchema } from '../types'

const block = (name: string): BlockType => ({
  name, family: 'structural', title: name, description: '', paper: '', params: [], complexity: 'O(L)', causal: true,
  recurrent: false, residual: true, structural: true, many_inputs: false, tags: [],
})

describe('share links', () => {
  it('uses the token for an unlisted graph and the id otherwise', () => {
    expect(sharePath({ id: 7, visibility: 'unlisted', share_token: 'abc_-XYZ' })).toBe('/graphs/u/abc_-XYZ')
    expect(sharePath({ id: 7, visibility: 'public', share_token: 'abc' })).toBe('/graphs/7')
    expect(sharePath({ id: 7, visibility: 'private', share_token: 'abc' })).toBe('/graphs/7')
    // Not the owner (no token told): never fall back to a guessable link for an unlisted graph's token.
    expect(sharePath({ id: 7, visibility: 'unlisted', share_token: null })).toBe('/graphs/7')
  })
  it('says whose graph and which version a fork came from', () => {
    expect(forkOrigin({ name: 'Hybrid', owner: 'alice', version: 3 })).toBe("alice's Hybrid (v3)")
    expect(forkOrigin({ name: 'Hybrid' })).toBe('Hybrid')
    expect(forkOrigin(null)).toBe('')
  })
})

describe('group slots from the server', () => {
  it('puts the served slots on the group blocks only', () => {
    const blocks = withGroupSlots([block('repeat'), block('chunk'), block('mlp')], { repeat: [null], chunk: ['local', 'global'] })
    expect(groupSlots(blocks[0])).toEqual([null])
    expect(groupSlots(blocks[1])).toEqual(['local', 'global'])
    expect(isGroupBlock(blocks[2])).toBe(false)
    // Nothing is known about a group the server did not name.
    expect(isGroupBlock(block('chunk'))).toBe(false)
  })
})

describe('launch fields from GET /api/limits/', () => {
  const steps: ParamSchema = { name: 'steps', type: 'int', default: 200, min: 1, max: 20000, choices: null, help: '' }
  const tokens: ParamSchema = { name: 'max_tokens', type: 'int', default: null, min: 1, max: 2e9, choices: null, help: '', nullable: true }
  it('checks against the served maximum', () => {
    expect(checkParam(steps, 20000)).toBeNull()
    expect(checkParam(steps, 20001)).toBe('must be <= 20000')
  })
  it('lets a nullable field stay empty', () => {
    expect(checkParam(tokens, null)).toBeNull()
    expect(checkParam(tokens, undefined)).toBeNull()
    expect(checkParam(steps, null)).toBe('must be an integer')
    expect(firstProblem([steps, tokens], { steps: 10, max_tokens: null })).toBeNull()
  })
})

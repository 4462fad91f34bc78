import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

// A plugin built from another commit of this repository, run next to the current one in the
// same go: the reference for a change whose "before" no longer exists in the tree.

const root = fileURLToPath(new URL('../..', import.meta.url))

export interface ReferenceBuild {
  readonly rev: string
  readonly entry: string
  remove: () => void
}

export function buildReference (rev: string): ReferenceBuild {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-reference-'))
  const git = (...args: string[]): string => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8' })
  git('worktree', 'add', '--detach', dir, rev)
  try {
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'))
    execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-p', dir], { stdio: 'inherit' })
  } catch (err) {
    git('worktree', 'remove', '--force', dir)
    throw err
  }
  return {
    rev: git('rev-parse', '--short', rev).trim(),
    entry: path.join(dir, 'dist', 'src', 'main.js'),
    remove: () => { git('worktree', 'remove', '--force', dir) },
  }
}

import assert from 'node:assert/strict'
import fs from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { readmeWithOptions } from '../scripts/options-table.js'
import { ErrorCodes } from '../src/errors.js'

const readme = fs.readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8')

test('the README documents every option with its default, as the schemas define them', () => {
  assert.equal(readme, readmeWithOptions(readme), 'README option tables are stale: run `npm run docs:options`')
})

test('the README lists every error code', () => {
  for (const code of Object.keys(ErrorCodes)) assert.ok(readme.includes(code), `${code} is missing from README.md`)
})

test('the README shows the two commands', () => {
  assert.match(readme, /npm start/)
  assert.match(readme, /npm test/)
})

test('the README\'s sample alerts use metrics the registry serves, and one fires on a backlog older than 5 minutes', () => {
  const exprs = [...readme.matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1] as string)
  assert.ok(exprs.some((e) => /\(logrelay_sink_backlog_oldest_age_seconds\) > 300$/.test(e)), 'an alert on the backlog\'s age past 300 s')
  for (const name of exprs.flatMap((e) => e.match(/logrelay_[a-z_]+/g) ?? [])) {
    assert.ok(readme.includes(`| \`${name}\` |`), `${name} is in an alert but not in the generated metrics table`)
  }
})

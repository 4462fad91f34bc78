import assert from 'node:assert/strict'
import { test } from 'node:test'
import { compileTimeTemplate, renderTemplate } from '../../sinks/templates.js'
import { containerMeta } from '../helpers/records.js'

// Names made from templates (es-index, kafka-topic, kafka-key, tag): docker's tag fields, a
// label by key, and date parts from each record's own time.

const container = containerMeta({
  id: '0123456789ab'.repeat(5) + 'cdef', name: 'web-1', imageName: 'nginx:1.27', imageId: `sha256:${'f'.repeat(64)}`,
  allLabels: { team: 'blue', 'com.example/tier': 'front' }, daemonName: 'docker', command: 'nginx -g daemon off;',
})

test('renders docker\'s tag fields and labels by key', () => {
  assert.equal(renderTemplate('tag', '{{.ID}}', container), '0123456789ab')
  assert.equal(renderTemplate('tag', '{{.FullID}}', container), container.id)
  assert.equal(renderTemplate('tag', '{{ .Name }}/{{.ImageName}}', container), 'web-1/nginx:1.27')
  assert.equal(renderTemplate('tag', '{{.ImageID}} {{.ImageFullID}}', container), `${'f'.repeat(12)} sha256:${'f'.repeat(64)}`)
  assert.equal(renderTemplate('tag', '{{.DaemonName}}: {{.Command}}', container), 'docker: nginx -g daemon off;')
  assert.equal(renderTemplate('tag', 'logs-{{index .ContainerLabels "team"}}-{{index .ContainerLabels "com.example/tier"}}', container), 'logs-blue-front')
  assert.equal(renderTemplate('tag', '{{index .ContainerLabels "absent"}}x', container), 'x')
  assert.equal(renderTemplate('tag', 'plain text', container), 'plain text')
})

test('escapes only the container\'s values, never the template\'s own text', () => {
  assert.equal(renderTemplate('es-index', 'A-{{.Name}}', containerMeta({ name: 'Web 1' }), (v) => v.toLowerCase().replace(/ /g, '-')), 'A-web-1')
})

test('refuses an unknown field or an unterminated action, naming the option and what is accepted', () => {
  assert.throws(() => renderTemplate('kafka-topic', 'x-{{.Nope}}', container), /invalid log-opt kafka-topic="x-\{\{.Nope\}\}" \(\{\{.Nope\}\} is not known\): expected a template of \{\{.ID\}\}/)
  assert.throws(() => renderTemplate('tag', '{{ .Name', container), /invalid log-opt tag="\{\{ .Name" \(a \{\{ is not closed by \}\}\)/)
  assert.throws(() => renderTemplate('tag', '{{.Name}} and {{', container), /is not closed/)
})

test('date parts come from the record\'s own time, in UTC, ISO weeks included', () => {
  const index = compileTimeTemplate('es-index', 'logs-%Y.%m.%d-%H-%G.%V-100%%')
  // 2027-01-03T04:05:06Z is a Sunday: ISO week 53 of 2026.
  const at = BigInt(Date.parse('2027-01-03T04:05:06Z')) * 1_000_000n
  assert.equal(index(at), 'logs-2027.01.03-04-2026.53-100%')
  assert.equal(index(at + 3_600_000_000_000n), 'logs-2027.01.03-05-2026.53-100%')
  assert.equal(compileTimeTemplate('es-index', 'fixed')(at), 'fixed')
  assert.throws(() => compileTimeTemplate('es-index', 'logs-%Q'), /invalid log-opt es-index="logs-%Q" \(%Q is not known\): expected date parts %Y/)
})

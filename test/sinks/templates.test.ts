import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseValue } from '../../src/options/schema.js'
import { compileTimeTemplate, containerTemplate, datedTemplate, renderTemplate } from '../../sinks/templates.js'
import { containerMeta } from '../helpers/records.js'

// Names made from templates (es-index, kafka-topic, kafka-key, tag): docker's tag fields, a
// label by key, and date parts from each record's own time.

const container = containerMeta({
  id: '0123456789ab'.repeat(5) + 'cdef', name: 'web-1', imageName: 'nginx:1.27', imageId: `sha256:${'f'.repeat(64)}`,
  allLabels: { team: 'blue', 'com.example/tier': 'front' }, daemonName: 'docker', command: 'nginx -g daemon off;',
})

test('renders docker\'s tag fields and labels by key', () => {
  assert.equal(renderTemplate('{{.ID}}', container), '0123456789ab')
  assert.equal(renderTemplate('{{.FullID}}', container), container.id)
  assert.equal(renderTemplate('{{ .Name }}/{{.ImageName}}', container), 'web-1/nginx:1.27')
  assert.equal(renderTemplate('{{.ImageID}} {{.ImageFullID}}', container), `${'f'.repeat(12)} sha256:${'f'.repeat(64)}`)
  assert.equal(renderTemplate('{{.DaemonName}}: {{.Command}}', container), 'docker: nginx -g daemon off;')
  assert.equal(renderTemplate('logs-{{index .ContainerLabels "team"}}-{{index .ContainerLabels "com.example/tier"}}', container), 'logs-blue-front')
  assert.equal(renderTemplate('{{index .ContainerLabels "absent"}}x', container), 'x')
  assert.equal(renderTemplate('plain text }} too', container), 'plain text }} too')
  assert.equal(renderTemplate('', container), '')
})

test('escapes only the container\'s values, never the template\'s own text', () => {
  assert.equal(renderTemplate('A-{{.Name}}', containerMeta({ name: 'Web 1' }), (v) => v.toLowerCase().replace(/ /g, '-')), 'A-web-1')
})

// Regression: `tag={{ .Name` and unknown fields were accepted when their sink was not in use,
// and as plugin defaults; the kinds refuse them wherever they are set.
test('the template kinds refuse an unknown field or an unterminated action, naming the option and what is accepted', () => {
  const spec = (name: string, kind = containerTemplate) => ({ name, kind, description: '' })
  assert.throws(() => parseValue(spec('kafka-topic'), 'x-{{.Nope}}', 'log-opt', 'kafka-topic'), /invalid log-opt kafka-topic="x-\{\{.Nope\}\}" \(\{\{.Nope\}\} is not known\): expected a template of \{\{.ID\}\}/)
  assert.throws(() => parseValue(spec('tag'), '{{ .Name', 'log-opt', 'tag'), /invalid log-opt tag="\{\{ .Name" \(a \{\{ is not closed by \}\}\)/)
  assert.throws(() => parseValue(spec('tag'), '{{.Name}} and {{', 'plugin setting', 'LOGRELAY_TAG'), /invalid plugin setting LOGRELAY_TAG=.*is not closed/)
  assert.throws(() => containerTemplate.parse('{{index .ContainerLabels team}}'), /is not known/)
  assert.throws(() => containerTemplate.parse('a\nb'), /control character/)
  assert.throws(() => parseValue(spec('es-index', datedTemplate), 'logs-%Q-{{.Name}}', 'log-opt', 'es-index'), /invalid log-opt es-index="logs-%Q-\{\{.Name\}\}" \(%Q is not known\): expected date parts %Y/)
  assert.throws(() => datedTemplate.parse('logs-%{{.Name}}'), /% is not known/)
  assert.throws(() => datedTemplate.parse('logs-{{.Nope}}'), /is not known/)
  assert.equal(datedTemplate.parse('logs-{{.Name}}-%Y.%m-100%%'), 'logs-{{.Name}}-%Y.%m-100%%')
})

test('date parts come from the record\'s own time, in UTC, ISO weeks included', () => {
  const index = compileTimeTemplate('logs-%Y.%m.%d-%H-%G.%V-100%%')
  // 2027-01-03T04:05:06Z is a Sunday: ISO week 53 of 2026.
  const at = BigInt(Date.parse('2027-01-03T04:05:06Z')) * 1_000_000n
  assert.equal(index(at), 'logs-2027.01.03-04-2026.53-100%')
  assert.equal(index(at + 3_600_000_000_000n), 'logs-2027.01.03-05-2026.53-100%')
  assert.equal(compileTimeTemplate('fixed')(at), 'fixed')
})

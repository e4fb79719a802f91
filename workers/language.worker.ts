import * as Comlink from 'comlink';
import { installErrorTransfer } from '../src/engine/comlink-errors';
import { LanguageService } from './language-service';

installErrorTransfer();
Comlink.expose(new LanguageService());

import * as Comlink from 'comlink';
import { installErrorTransfer } from '../src/engine/comlink-errors';
import { VisionService } from './vision-service';

installErrorTransfer();
Comlink.expose(new VisionService());

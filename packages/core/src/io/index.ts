/** Weight I/O (browser-safe): safetensors to and from bytes. File helpers are in `./node.js`. */
export * from './safetensors.js'

// A piscina worker thread of the local pool. Plain JavaScript because a worker thread starts without
// the parent's require hooks: it registers ts-node itself, then loads one Hardhat runtime on the
// in-process network (sim/sweep/thread-main.ts), once per thread; the pool gives it one run at a time.
"use strict";
const path = require("node:path");

const root = path.resolve(__dirname, "..", "..");
process.env.HARDHAT_NETWORK = "hardhat";
process.env.HARDHAT_CONFIG = path.join(root, "hardhat.config.ts");
require("ts-node").register({ transpileOnly: true, project: path.join(root, "tsconfig.json") });
module.exports = require("./thread-main.ts").runInThread;

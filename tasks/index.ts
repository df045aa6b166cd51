// Hardhat tasks (perp:*, simulate, walkthrough, sweep) register themselves on import. Task files may import
// only hardhat/config and type-only modules at load time: typechain-types does not exist before compile.
import "./perp";
import "./simulate";
import "./orders";
import "./walkthrough";
import "./sweep";
import "./pool";
import "../bench/task";
import { refuseUnparsableCommandLine } from "./common";

// Every task is registered: a perp:* command line Hardhat cannot parse stops here, in one line.
refuseUnparsableCommandLine();

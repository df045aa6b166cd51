// Hardhat tasks (perp:*, simulate, walkthrough) register themselves on import. Task files may import
// only hardhat/config and type-only modules at load time: typechain-types does not exist before compile.
import "./perp";
import "./simulate";
import "./orders";
import "./walkthrough";
import "../bench/task";
import "./sweep";
import "./pool";

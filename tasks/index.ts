// Hardhat tasks (perp:*, simulate, walkthrough) register themselves on import.
export {};

/**
 * solidity-coverage (`npx hardhat coverage`): figures for contracts/ only; the mocks and harnesses under
 * contracts/test/ exist for the tests and are not measured. `npm run coverage` runs the unit, integration,
 * adversarial and vector suites: the keeper, simulator, bench and fuzz suites drive the same contract
 * paths thousands of times, which instrumented code makes hours long.
 */
module.exports = {
  skipFiles: ["test/"],
  mocha: { timeout: 600_000 },
};

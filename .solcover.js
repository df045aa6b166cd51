/**
 * solidity-coverage (`npx hardhat coverage`): figures for contracts/ only; the mocks and harnesses under
 * contracts/test/ exist for the tests and are not measured.
 */
module.exports = {
  skipFiles: ["test/"],
  mocha: { timeout: 600_000 },
};

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IPriceRecorder} from "../interfaces/IOracle.sol";

/// @title PushPriceFeed
/// @notice A pushed price source with Chainlink's AggregatorV3Interface: a stand-in for an external
/// exchange's price, updated by the oracle role. An optional per-update deviation limit refuses a push
/// that moves the price by more than `maxDeviation` (WAD fraction) at once. Connected to an oracle
/// (`setOracle`), each push is also recorded there, so the oracle reads it without calling the feed.
contract PushPriceFeed is AggregatorV3Interface, AccessControl {
    bytes32 public constant ORACLE_ROLE = keccak256("ORACLE_ROLE");
    uint256 private constant WAD = 1e18;

    uint8 public immutable override decimals;
    string public override description;
    uint256 public maxDeviation;
    /// @notice The oracle each push is recorded into (zero: none).
    IPriceRecorder public oracle;

    /// @dev One slot, so a read of the latest round costs one SLOAD.
    struct Round {
        uint80 roundId;
        int128 answer;
        uint48 updatedAt;
    }

    Round private _latest;

    event PriceUpdated(uint80 indexed roundId, int256 answer, uint256 updatedAt);
    event MaxDeviationSet(uint256 maxDeviation);
    event OracleSet(address oracle);

    error PriceOutOfRange(int256 answer);
    error DeviationTooLarge(int256 previous, int256 answer, uint256 maxDeviation);
    error RoundNotAvailable(uint80 roundId);
    /// @notice The chain's clock is past what a round's 48-bit `updatedAt` holds: a push would record a
    /// wrapped, stale-looking time, so it is refused.
    error TimestampOverflow(uint256 timestamp, uint256 max);

    constructor(uint8 decimals_, string memory description_, address admin) {
        decimals = decimals_;
        description = description_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ORACLE_ROLE, admin);
    }

    /// @notice Pushes a new answer (in `decimals`); oracle role only.
    /// @param answer the price, positive and at most type(int128).max
    function setPrice(int256 answer) external onlyRole(ORACLE_ROLE) {
        if (answer <= 0 || answer > type(int128).max) revert PriceOutOfRange(answer);
        if (block.timestamp > type(uint48).max) revert TimestampOverflow(block.timestamp, type(uint48).max);
        int256 previous = _latest.answer;
        if (maxDeviation != 0 && previous != 0) {
            uint256 move = uint256(answer > previous ? answer - previous : previous - answer);
            if (move * WAD > uint256(previous) * maxDeviation) revert DeviationTooLarge(previous, answer, maxDeviation);
        }
        uint80 roundId = _latest.roundId + 1;
        _latest = Round(roundId, int128(answer), uint48(block.timestamp));
        emit PriceUpdated(roundId, answer, block.timestamp);
        IPriceRecorder o = oracle;
        if (address(o) != address(0)) o.recordPrice(answer, block.timestamp);
    }

    /// @notice Connects the feed to `oracle_` (zero: disconnects), recording the latest round there at
    /// once; admin only. Connect a feed before the oracle lists it as a source: the oracle decides when
    /// the sources are set whether it reads a source from its own records.
    function setOracle(IPriceRecorder oracle_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        oracle = oracle_;
        emit OracleSet(address(oracle_));
        Round memory r = _latest;
        if (address(oracle_) != address(0) && r.roundId != 0) oracle_.recordPrice(r.answer, r.updatedAt);
    }

    /// @notice Sets the per-update deviation limit (WAD fraction, 0 = off); admin only.
    function setMaxDeviation(uint256 maxDeviation_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        maxDeviation = maxDeviation_;
        emit MaxDeviationSet(maxDeviation_);
    }

    /// @inheritdoc AggregatorV3Interface
    function version() external pure returns (uint256) {
        return 1;
    }

    /// @inheritdoc AggregatorV3Interface
    function getRoundData(uint80 roundId) external view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory r = _latest;
        if (roundId != r.roundId || roundId == 0) revert RoundNotAvailable(roundId);
        return (r.roundId, r.answer, r.updatedAt, r.updatedAt, r.roundId);
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory r = _latest;
        return (r.roundId, r.answer, r.updatedAt, r.updatedAt, r.roundId);
    }
}

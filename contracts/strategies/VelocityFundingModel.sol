// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IFundingModel, FundingInputs} from "../interfaces/IFundingModel.sol";
import {WadMath} from "../libraries/WadMath.sol";

/// @title VelocityFundingModel
/// @notice Synthetix v3's velocity funding on discrete intervals. The rate is not set by the premium of
/// the moment: it drifts, at maxFundingVelocity * skew / skewScale per day, so a crowded side pays more
/// every interval it stays crowded, and the rate keeps its level when the skew closes.
/// In this engine the premium is skew / skewScale (SPEC 5: last = index * (1 + K / S)), so the average
/// premium over the interval is the average proportional skew, clamped to [-1, 1] as Synthetix does.
/// Synthetix quotes rates per day; F here is per interval of T seconds: F = r * T / day. A drift of
/// v * s per day over T seconds moves r by v * s * T / day, so F moves by v * s * (T / day)^2:
///     F = clamp(F_last + v * s * T^2 / day^2, -cap, +cap)
/// rounded once, toward negative infinity. The interest rate and its clamp do not enter.
contract VelocityFundingModel is IFundingModel {
    int256 private constant SECONDS_PER_DAY = 1 days;

    /// @inheritdoc IFundingModel
    function fundingRate(FundingInputs calldata f) external pure returns (int256) {
        int256 skewFraction = WadMath.clamp(f.avgPremium, -WadMath.IWAD, WadMath.IWAD);
        int256 interval = int256(f.interval);
        int256 drift = WadMath.floorDiv(
            skewFraction * int256(f.maxVelocity) * interval * interval,
            WadMath.IWAD * SECONDS_PER_DAY * SECONDS_PER_DAY
        );
        return WadMath.clamp(f.lastRate + drift, -f.cap, f.cap);
    }

    /// @inheritdoc IFundingModel
    function name() external pure returns (string memory) {
        return "velocity";
    }
}

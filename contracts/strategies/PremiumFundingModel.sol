// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IFundingModel, FundingInputs} from "../interfaces/IFundingModel.sol";
import {WadMath} from "../libraries/WadMath.sol";

/// @title PremiumFundingModel
/// @notice The premium-index rate of SPEC section 5, as on centralised exchanges:
/// F = clamp(avgPremium + clamp(I - avgPremium, -clampRate, +clampRate), -cap, +cap).
contract PremiumFundingModel is IFundingModel {
    /// @inheritdoc IFundingModel
    function fundingRate(FundingInputs calldata f) external pure returns (int256) {
        int256 interest = WadMath.clamp(f.interestRate - f.avgPremium, -f.clampRate, f.clampRate);
        return WadMath.clamp(f.avgPremium + interest, -f.cap, f.cap);
    }

    /// @inheritdoc IFundingModel
    function name() external pure returns (string memory) {
        return "premium-index";
    }
}

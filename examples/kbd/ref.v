// Keyboard scan-code decoder (QiMeng-SALV, Figure 1), reference.
// `a` is high for the scan code of key A (16'h001c), `d` for key D (16'h0023); all else low.
module kbd_decoder (
    input  wire [15:0] scancode,
    output reg         a,
    output reg         d
);
    always @(*) begin
        a = 1'b0;
        d = 1'b0;
        case (scancode)
            16'h001c: a = 1'b1;
            16'h0023: d = 1'b1;
            default: ;
        endcase
    end
endmodule
